"""Data set counts and retriever recall@{1,5,10} (answer in the top k) on nq-wiki dev.

    python benchmarks/retrieval_recall.py
"""

from __future__ import annotations

import json
import time

from ragbridge.data import load_dataset
from ragbridge.records import Candidates
from ragbridge.retrievers import build_retriever
from ragbridge.retrievers.stage import recall_at


def main() -> None:
    lines = ["| data set | corpus | train | dev | test |", "|---|---:|---:|---:|---:|"]
    for name in ("nq-wiki", "email-subject"):
        counts = json.loads((load_dataset(name).path / "meta.json").read_text())["counts"]
        lines.append(f"| {name} | {counts['corpus']} | {counts['train']} | {counts['dev']} |"
                     f" {counts['test']} |")
    lines += ["", "| retriever (nq-wiki dev) | R@1 | R@5 | R@10 | index s | retrieve s |",
              "|---|---:|---:|---:|---:|---:|"]
    dataset = load_dataset("nq-wiki")
    corpus, examples = dataset.corpus(), dataset.examples("dev")
    for name in ("bm25", "dense"):
        started = time.perf_counter()
        retriever = build_retriever(name, corpus)
        built = time.perf_counter()
        hits = retriever.retrieve(examples, 10)
        done = time.perf_counter()
        records = [Candidates(e, tuple(h)) for e, h in zip(examples, hits, strict=True)]
        recall = recall_at(records, (1, 5, 10))
        lines.append(f"| {name} | {recall[1]:.1f} | {recall[5]:.1f} | {recall[10]:.1f} |"
                     f" {built - started:.1f} | {done - built:.1f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
