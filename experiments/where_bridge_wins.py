"""Where a bridge wins: a test table's queries grouped by the shape of the bridge's sequence.

No LLM call: it reads an evaluation's per-query scores and choices (`eval-test.json`) and the
test silver's first-step trace (each candidate alone), and prints, per shape of the bridge's
output (length, with or without a repeat), how many queries, the bridge's mean metric, each
baseline's on the same queries, and the best single candidate's (the singles oracle).

    python experiments/where_bridge_wins.py --results benchmarks/results/study/email-subject-bm25 \
        --bridge RL-only
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
from collections import defaultdict
from pathlib import Path


def shape(positions: list[int]) -> str:
    """`length 3, repeat` / `length 1` / `empty`."""
    if not positions:
        return "empty"
    return f"length {len(positions)}" + (", repeat" if len(set(positions)) < len(positions)
                                         else "")


def best_single(record: dict) -> float:
    """The best task metric of the empty prompt and each candidate alone."""
    tried = next((s.get("tried", []) for s in record["trace"] if s.get("step") == 1), [])
    return max([t["metric"] for t in tried] + [record["empty_score"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, type=Path,
                        help="folder with eval-test.json and silver-test.jsonl(.gz)")
    parser.add_argument("--bridge", required=True, help="method name in the table")
    args = parser.parse_args()
    table = json.loads((args.results / "eval-test.json").read_text())
    methods = {r["method"]: r for r in table["results"]}
    bridge = methods[args.bridge]
    baselines = [r["method"] for r in table["results"] if r["kind"] == "baseline"]
    silver_path = next(p for p in (args.results / "silver-test.jsonl.gz",
                                   args.results / "silver-test.jsonl") if p.exists())
    opener = gzip.open if silver_path.suffix == ".gz" else open
    with opener(silver_path, "rt") as handle:
        singles = [best_single(json.loads(line)) for line in handle if line.strip()]
    groups: dict[str, list[int]] = defaultdict(list)
    for number, positions in enumerate(bridge["positions"]):
        groups[shape(positions)].append(number)
    groups["all"] = list(range(len(bridge["positions"])))
    print(f"{args.bridge} on {table['title']}: mean {table['metric']} by output shape\n")
    print("| shape | queries | " + " | ".join([args.bridge, *baselines, "best single"]) + " |")
    print("|---|---:|" + "---:|" * (len(baselines) + 2))
    for name in sorted(groups, key=lambda g: (g == "all", g)):
        rows = groups[name]
        means = [statistics.mean(methods[m]["scores"][i] for i in rows)
                 for m in [args.bridge, *baselines]]
        means.append(statistics.mean(singles[i] for i in rows))
        print(f"| {name} | {len(rows)} | " + " | ".join(f"{m:.1f}" for m in means) + " |")


if __name__ == "__main__":
    main()
