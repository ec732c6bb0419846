"""Does a flatter first choice help? A trained bridge's first id, prior-corrected, on dev.

A bridge trained on noisy silver can put most dev queries on the train silver's most common
first choice. Logit adjustment (Menon et al., 2021) subtracts `tau * log prior` (the train
silver's first-choice frequencies) from the first step's log-probabilities before the argmax,
which spreads the choices. This measures what that costs or buys, without any LLM call: the
dev silver search scored the empty prompt and every single candidate, so the task metric of
any first choice alone is in the dev silver's trace.

    RUN=runs/study/email-subject-bm25-singles-metric-likelihood
    python experiments/first_choice_prior.py --run $RUN --bridge $RUN/bridge-sl/model

(the silver must carry the metric: a likelihood-only search never generated, so it cannot).

Prints, per tau: the dev metric of the first choice alone, the share of dev on the most
common choice, how many distinct choices, and how often the first choice agrees with silver.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from ragbridge.bridge import Bridge
from ragbridge.jsonl import read_jsonl
from ragbridge.rundir import RunDir


def first_choice(record: dict[str, Any], stop: int) -> int:
    """The silver's first id (a 0-based position), or `stop` for the empty sequence."""
    return record["silver_positions"][0] if record["silver_positions"] else stop


def single_metric(record: dict[str, Any], choice: int, stop: int) -> float:
    """The task metric of one first choice alone, from the silver search's trace."""
    if choice == stop:
        return float(record["trace"][0]["empty"]["metric"])
    tried = {t["append"]: t["metric"] for t in record["trace"][1]["tried"]}
    return float(tried[choice])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--bridge", type=Path, required=True)
    parser.add_argument("--taus", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/first_choice_prior"))
    args = parser.parse_args()
    run = RunDir(args.run)
    bridge = Bridge.from_pretrained(args.bridge)
    bridge.freeze_encoder()  # the K+1 scoring passes below reuse one encoding per pair
    stop = bridge.k
    train = list(read_jsonl(run.silver_path("train")))
    counts = Counter(first_choice(r, stop) for r in train)
    log_prior = torch.tensor([math.log((counts[i] + 1) / (len(train) + stop + 1))
                              for i in range(stop + 1)])  # add-one smoothed
    dev = {str(r["id"]): r for r in read_jsonl(run.silver_path("dev"))}
    if any("metric" not in t for r in dev.values() for step in r["trace"][1:2]
           for t in step["tried"]):
        raise SystemExit(f"{run.silver_path('dev')}: the trace holds no task metric "
                         "(a likelihood-only search): nothing to measure choices by")
    items = [c for c in run.candidates("dev") if c.example.id in dev]
    queries, passages = [c.example.query for c in items], [c.passages for c in items]
    first = torch.full((len(items), stop + 1), float("-inf"))
    with torch.inference_mode():
        for choice in range(stop + 1):
            rows = [n for n, c in enumerate(items) if choice == stop or choice < len(c.passages)]
            sequences = [[] if choice == stop else [choice] for _ in rows]
            logprobs, _ = bridge.sequence_logprobs([queries[n] for n in rows],
                                                   [passages[n] for n in rows], sequences)
            first[rows, choice] = logprobs[:, 0]
    records = [dev[c.example.id] for c in items]
    table = []
    for tau in args.taus:
        chosen = (first - tau * log_prior).argmax(-1).tolist()
        metric = sum(single_metric(r, ch, stop) for r, ch in zip(records, chosen, strict=True))
        tally = Counter(chosen)
        table.append({"tau": tau, "metric": metric / len(items),
                      "most_common_share": 100.0 * tally.most_common(1)[0][1] / len(items),
                      "distinct": len(tally),
                      "agrees_with_silver": 100.0 * sum(
                          ch == first_choice(r, stop)
                          for r, ch in zip(records, chosen, strict=True)) / len(items)})
    top1 = sum(single_metric(r, 0, stop) for r in records) / len(items)
    print(f"{args.run.name}, {len(items)} dev queries; top-1 alone {top1:.2f}")
    print("| tau | dev metric (first choice alone) | most common % | distinct | agrees with "
          "silver % |\n|---:|---:|---:|---:|---:|")
    for row in table:
        print(f"| {row['tau']:.2f} | {row['metric']:.2f} | {row['most_common_share']:.0f} | "
              f"{row['distinct']} | {row['agrees_with_silver']:.0f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.run.name}.json").write_text(json.dumps(
        {"run": str(args.run), "bridge": str(args.bridge), "dev": len(items), "top1": top1,
         "train_first_choices": {str(k): v for k, v in sorted(counts.items())},
         "rows": table}, indent=1))


if __name__ == "__main__":
    main()
