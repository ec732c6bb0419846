"""Can the bridge learn to point at a candidate by its content? No LLM involved (issue 14).

Two checks on a run's candidates (nq-wiki dense top-5 by default):

- **copy task**: each query is 12 consecutive words copied from one of its K candidates
  (candidates shuffled); the label is that candidate alone. A bridge that reads its input
  solves it; one that cannot ends at a constant output (chance: 1/K).
- **silver task** (`--silver`): train on the run's train silver, then compare the bridge's
  dev sequences with the dev silver: exact agreement and first-id agreement, against the best
  constant output (the train silver's most common sequence), and how varied its outputs are.
  Where silver ties (several first choices, the empty one included, share the best measured
  utility, which a 0/1 or BLEU metric often does), the search's pick among them is arbitrary,
  so the check also reports **tie-aware** agreement: the first choice (or the empty output) is
  one of the best first choices the search measured (`silver.first_step_utilities`), against
  the constant first choice that is most often among the best on train.

Batches of 8, AdamW, dev accuracy every `--eval-every` steps:

    python experiments/learnability.py --run runs/nq-wiki-dense --steps 200
    python experiments/learnability.py --run runs/email-subject-bm25 --silver --steps 300
    python experiments/learnability.py --run runs/study/nq-wiki-dense --silver \
        --bridge runs/study/nq-wiki-dense/bridge-sl/model   # a trained bridge, no training

`--family` picks the bridge family; the same script runs against an older checkout's bridge
(`PYTHONPATH=OLD/src python experiments/learnability.py --family minilm-encdec ...`), which is
how the table in BENCHMARKS.md compares the two in one run.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ragbridge.bridge import Bridge, BridgeFormat, build_bridge
from ragbridge.jsonl import read_jsonl
from ragbridge.records import Candidates, Passage
from ragbridge.rundir import RunDir
from ragbridge.silver.records import first_step_utilities


def copy_task(items: list[Candidates], count: int, seed: int, words: int = 12
              ) -> list[tuple[str, list[Passage], list[int]]]:
    """(query copied from one shuffled candidate, candidates, [its position])."""
    rng = random.Random(seed)
    usable = [c for c in items if len(c.hits) >= 2]
    examples = []
    while len(examples) < count:
        item = rng.choice(usable)
        passages = [h.passage for h in item.hits]
        rng.shuffle(passages)
        target = rng.randrange(len(passages))
        text = passages[target].text.split()
        start = rng.randrange(max(len(text) - words, 1))
        examples.append((" ".join(text[start:start + words]), passages, [target]))
    return examples


def silver_task(run: RunDir, split: str) -> list[tuple[str, list[Passage], list[int]]]:
    """(query, candidates, silver positions) of the split's silver records."""
    silver = {str(r["id"]): r["silver_positions"] for r in read_jsonl(run.silver_path(split))}
    return [(c.example.query, c.passages, list(silver[c.example.id]))
            for c in run.candidates(split) if c.example.id in silver]


def best_first_choices(run: RunDir, split: str) -> list[set[int] | None]:
    """Per silver example (in `silver_task`'s order), the first choices that share the best
    utility the search measured: candidate positions, and -1 for the empty output; None where
    the record has no first-step trace."""
    records = {str(r["id"]): r for r in read_jsonl(run.silver_path(split))}
    found: list[set[int] | None] = []
    for item in run.candidates(split):
        if item.example.id not in records:
            continue
        utilities = first_step_utilities(records[item.example.id], len(item.hits))
        if utilities is None:
            found.append(None)
            continue
        *singles, empty = utilities
        best = max(u for u in utilities if u is not None)
        found.append({i for i, u in enumerate(singles) if u is not None and u >= best - 1e-9}
                     | ({-1} if empty >= best - 1e-9 else set()))
    return found


def first_choice(sequence: list[int]) -> int:
    """A sequence's first id, or -1 for the empty sequence."""
    return sequence[0] if sequence else -1


def best_constant_first(best: list[set[int] | None]) -> int:
    """The first choice (a position, or -1 for empty) most often among the best ones: the
    best constant output under tie-aware agreement (chosen on train)."""
    tallies = Counter(choice for b in best if b is not None for choice in b)
    return max(sorted(tallies), key=lambda choice: tallies[choice])


def tie_aware(chosen: list[list[int]], best: list[set[int] | None], constant: int
              ) -> dict[str, float]:
    """How often the first choice is one of the best measured ones, for the bridge and for
    the best constant first choice, on every traced example and on the untied ones."""
    traced = [(first_choice(c), b) for c, b in zip(chosen, best, strict=True) if b is not None]
    untied = [(c, b) for c, b in traced if len(b) == 1]

    def share(pairs: list[tuple[int, set[int]]], fixed: int | None = None) -> float:
        hits = sum((c if fixed is None else fixed) in b for c, b in pairs)
        return 100.0 * hits / max(len(pairs), 1)

    return {"traced": len(traced), "untied": len(untied), "tie_constant": constant,
            "best_first": share(traced), "constant_best_first": share(traced, constant),
            "untied_first": share(untied), "constant_untied_first": share(untied, constant)}


def evaluate(bridge: Any, examples: list[tuple[str, list[Passage], list[int]]],
             constant: list[int], best: list[set[int] | None] | None = None,
             tie_constant: int = -1) -> dict[str, float]:
    """Agreement with the labels (whole sequence and first id), output diversity, and (given
    the best measured first choices) tie-aware agreement, beside `tie_constant`'s."""
    chosen = bridge.generate([q for q, _, _ in examples], [p for _, p, _ in examples])
    labels = [label for _, _, label in examples]
    count = max(len(examples), 1)
    tallies = Counter(tuple(c) for c in chosen)
    extra = tie_aware(chosen, best, tie_constant) if best else {}
    return {"exact": 100.0 * sum(c == y for c, y in zip(chosen, labels, strict=True)) / count,
            "first": 100.0 * sum(c[:1] == y[:1] for c, y in zip(chosen, labels, strict=True))
            / count,
            "constant_exact": 100.0 * sum(constant == y for y in labels) / count,
            "constant_first": 100.0 * sum(constant[:1] == y[:1] for y in labels) / count,
            "distinct": len(tallies),
            "most_common_share": 100.0 * tallies.most_common(1)[0][1] / count, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--silver", action="store_true", help="the silver task")
    parser.add_argument("--family", default="minilm-fid")
    parser.add_argument("--bridge", type=Path, default=None,
                        help="evaluate this trained bridge folder instead of training one")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=5e-5,
                        help="encoder (or whole model) learning rate")
    parser.add_argument("--head-learning-rate", type=float, default=5e-4,
                        help="pointer decoder learning rate (FiD bridges)")
    parser.add_argument("--train", type=int, default=2000, help="copy-task train examples")
    parser.add_argument("--dev", type=int, default=150, help="copy-task dev examples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learnability"))
    args = parser.parse_args()
    run = RunDir(args.run)
    k = max(len(c.hits) for c in run.candidates("dev"))
    if args.silver:
        train, dev = silver_task(run, "train"), silver_task(run, "dev")
        best = best_first_choices(run, "dev")
        tie_constant = best_constant_first(best_first_choices(run, "train"))
        task = "silver"
    else:
        train = copy_task(run.candidates("train"), args.train, args.seed)
        dev = copy_task(run.candidates("dev"), args.dev, args.seed + 1)
        best, tie_constant = None, -1
        task = "copy"
    constant = list(Counter(tuple(y) for _, _, y in train).most_common(1)[0][0])
    check = partial(evaluate, examples=dev, constant=constant, best=best,
                    tie_constant=tie_constant)
    if args.bridge is not None:
        found = {"run": str(args.run), "task": task, "bridge": str(args.bridge),
                 "train": len(train), "dev": len(dev), "constant": constant,
                 **check(Bridge.from_pretrained(args.bridge))}
        print(json.dumps(found, indent=1))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.run.name}-{task}-trained.json").write_text(json.dumps(found,
                                                                                   indent=1))
        return
    bridge = build_bridge(args.family, BridgeFormat(k=k), seed=args.seed)
    decoder = getattr(bridge.model, "decoder", None)
    head = {id(p) for p in decoder.parameters()} if decoder is not None and hasattr(
        bridge, "trainable_parameters") else set()
    trainable = list(getattr(bridge, "trainable_parameters", bridge.model.parameters)())
    groups = [{"params": [p for p in trainable if id(p) not in head], "lr": args.learning_rate}]
    if head:
        groups.append({"params": [p for p in trainable if id(p) in head],
                       "lr": args.head_learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    history: list[dict[str, float]] = [{"step": 0, **check(bridge)}]
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        bridge.model.train()
        batch = rng.sample(train, min(args.batch_size, len(train)))
        loss = bridge.loss([q for q, _, _ in batch], [p for _, p, _ in batch],
                           [y for _, _, y in batch])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            history.append({"step": step, "loss": sum(losses[-10:]) / len(losses[-10:]),
                            "seconds": time.perf_counter() - started,
                            **check(bridge)})
            last = history[-1]
            print(f"step {step}: loss {last['loss']:.3f}, dev exact {last['exact']:.1f} "
                  f"(constant {last['constant_exact']:.1f}), first {last['first']:.1f}, "
                  f"distinct {last['distinct']}, {last['seconds']:.0f} s", flush=True)
    name = f"{args.run.name}-{task}-{args.family.replace(':', '_').replace('/', '_')}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(
        {"run": str(args.run), "task": task, "family": args.family, "train": len(train),
         "dev": len(dev), "k": k, "batch_size": args.batch_size,
         "learning_rate": args.learning_rate, "head_learning_rate": args.head_learning_rate,
         "constant": constant, "history": history, "losses": losses}, indent=1))


if __name__ == "__main__":
    main()
