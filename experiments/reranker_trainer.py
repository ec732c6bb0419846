"""The point-wise reranker's own loop against sentence-transformers' CrossEncoderTrainer.

Both train the same CrossEncoder (MiniLM warm start, one logit) on the same (query, passage,
used-by-silver) pairs of a run's train silver with the same loss (binary cross-entropy with
the positive class weighted by negatives/positives), epochs, batch size and learning rate.
Scored without any LLM call: ROC-AUC of the dev pairs against the dev silver's labels, and
the seconds each training took. Needs `datasets` (and `accelerate`), which ragbridge does
not declare:

    pip install datasets accelerate
    python experiments/reranker_trainer.py --run runs/qwen-study/email-subject-bm25 --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from ragbridge.reranker.model import PointwiseReranker, _pair_text
from ragbridge.rundir import RunDir


def pairs_of(examples: list) -> list[tuple[str, str, float]]:
    """(query, passage text, 1.0 when the silver sequence uses the passage)."""
    return [(e.query, _pair_text(p), float(n in set(e.silver or ())))
            for e in examples for n, p in enumerate(e.passages)]


def roc_auc(scores: list[float], labels: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / max(len(positives) * len(negatives), 1)


def train_with_trainer(reranker: PointwiseReranker, pairs: list[tuple[str, str, float]],
                       seed: int, batch_size: int, learning_rate: float, out: Path) -> None:
    """One epoch of CrossEncoderTrainer with BinaryCrossEntropyLoss."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    positives = sum(label for *_, label in pairs)
    weight = torch.tensor((len(pairs) - positives) / max(positives, 1.0))
    data = Dataset.from_dict({"query": [q for q, _, _ in pairs],
                              "passage": [t for _, t, _ in pairs],
                              "label": [y for *_, y in pairs]})
    arguments = CrossEncoderTrainingArguments(
        output_dir=str(out), num_train_epochs=1, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, seed=seed, lr_scheduler_type="constant",
        warmup_steps=0, weight_decay=0.01, save_strategy="no", report_to="none",
        logging_steps=1000, use_cpu=True, disable_tqdm=True)
    CrossEncoderTrainer(model=reranker.encoder, args=arguments, train_dataset=data,
                        loss=BinaryCrossEntropyLoss(reranker.encoder, pos_weight=weight)).train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    args = parser.parse_args()
    run = RunDir(args.run)
    train, dev = run.examples("train"), run.examples("dev")
    train_pairs, dev_pairs = pairs_of(train), pairs_of(dev)
    rows: dict[str, list[tuple[float, float]]] = {"own loop": [], "CrossEncoderTrainer": []}
    for seed in range(args.seeds):
        for name in rows:
            torch.manual_seed(seed)
            reranker = PointwiseReranker()
            started = time.perf_counter()
            if name == "own loop":
                reranker.train([(e.query, e.passages, set(e.silver or ())) for e in train],
                               batch_size=args.batch_size, learning_rate=args.learning_rate,
                               seed=seed)
            else:
                train_with_trainer(reranker, train_pairs, seed, args.batch_size,
                                   args.learning_rate, Path("/tmp/reranker-trainer"))
            seconds = time.perf_counter() - started
            scores = reranker.encoder.predict([(q, t) for q, t, _ in dev_pairs],
                                              activation_fn=torch.nn.Identity(),
                                              show_progress_bar=False)
            rows[name].append((roc_auc([float(s) for s in scores],
                                       [y for *_, y in dev_pairs]), seconds))
            print(f"{name} seed {seed}: dev AUC {rows[name][-1][0]:.3f}, {seconds:.0f} s",
                  flush=True)
    print(f"\n{args.run.name}: {len(train_pairs)} train pairs "
          f"({sum(y for *_, y in train_pairs):.0f} positive), {len(dev_pairs)} dev pairs "
          f"({sum(y for *_, y in dev_pairs):.0f} positive), {args.seeds} seeds\n")
    print("| training | dev ROC-AUC per seed | mean ± sd | train seconds (mean) |")
    print("|---|---|---:|---:|")
    for name, values in rows.items():
        aucs = [a for a, _ in values]
        sd = statistics.stdev(aucs) if len(aucs) > 1 else 0.0
        print(f"| {name} | {', '.join(f'{a:.3f}' for a in aucs)} | "
              f"{statistics.mean(aucs):.3f} ± {sd:.3f} | "
              f"{statistics.mean(s for _, s in values):.0f} |")


if __name__ == "__main__":
    main()
