"""Bridge inference latency per query on this CPU, beside a point-wise MiniLM cross-encoder.

One query at a time (what a serving bridge sees), the first N nq-wiki dev questions with their
dense top-K candidates, K = 5 and 10, greedy constrained decoding; the point-wise scorer
scores the same K (query, passage) pairs in one batch. p50/p95 in milliseconds, and the mean
number of ids each bridge generated (latency grows with it). Pass trained bridge folders
with `--bridge NAME=PATH` to time them instead of fresh (untrained) ones:

    python benchmarks/bridge_latency.py -n 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ragbridge.bridge import Bridge, BridgeFormat, build_bridge
from ragbridge.data import load_dataset
from ragbridge.records import Passage
from ragbridge.reranker.model import PointwiseReranker
from ragbridge.retrievers import build_retriever

FAMILIES = ("minilm-fid",)


def _time(run: Callable[[str, list[Passage]], list[int]], queries: list[str],
          passages: list[list[Passage]]) -> tuple[list[float], float]:
    run(queries[0], passages[0])  # warm-up
    times, lengths = [], []
    for query, candidates in zip(queries, passages, strict=True):
        started = time.perf_counter()
        lengths.append(len(run(query, candidates)))
        times.append(1000 * (time.perf_counter() - started))
    return times, sum(lengths) / len(lengths)


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--bridge", action="append", default=[], help="NAME=PATH")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bridge_latency"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    dataset = load_dataset("nq-wiki")
    examples = dataset.examples("dev")[:args.n]
    hits = build_retriever("dense", dataset.corpus()).retrieve(examples, 10)
    queries = [e.query for e in examples]
    rows = []
    reranker = PointwiseReranker()
    for k in (5, 10):
        passages = [[h.passage for h in found[:k]] for found in hits]
        budget = 64 if k == 5 else 36  # K passages + query must fit MiniLM's 512 positions
        times, _ = _time(lambda q, p: [i for i, _ in enumerate(reranker.scores(q, p))],
                         queries, passages)
        rows.append(("point-wise MiniLM cross-encoder", k, times, float(k)))
        bridges: dict[str, Bridge] = {name: Bridge.from_pretrained(path) for name, path in
                                      (item.split("=", 1) for item in args.bridge)}
        if not bridges:
            bridges = {f"bridge {family} (untrained)": build_bridge(
                family, BridgeFormat(k=k, passage_tokens=budget)) for family in FAMILIES}
        for name, bridge in bridges.items():
            times, mean_ids = _time(bridge.select, queries, passages)
            rows.append((name, k, times, mean_ids))
    baseline = {k: statistics.median(t) for name, k, t, _ in rows if name.startswith("point")}
    lines = [f"{args.n} nq-wiki dev queries, one at a time, CPU ({torch.get_num_threads()} "
             "threads)", "", "| model | K | p50 ms | p95 ms | ids generated | p50 vs point-wise |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, k, times, mean_ids in rows:
        lines.append(f"| {name} | {k} | {statistics.median(times):.0f} | "
                     f"{_percentile(times, 0.95):.0f} | {mean_ids:.1f} | "
                     f"{statistics.median(times) / baseline[k]:.2f}x |")
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
