"""Paired bootstraps between methods of different runs on the same queries (issue 14).

Each `RUN:METHOD` names a method row of `RUN/eval-SPLIT.json` (written by `ragbridge
evaluate`); the runs must have evaluated the same examples in the same order (checked by
their top-1 rows, which are the same prompts, and so the same scores, when they did). Prints the
mean difference of each pair (first minus second) and its 95% interval
(`ragbridge.evaluation.paired_bootstrap`, 2,000 resamples):

    python experiments/paired_dev.py --split dev \\
        "runs/study/nq-wiki-dense-singles-metric-likelihood:SL bridge" \\
        "runs/study/nq-wiki-dense-singles-metric-likelihood:top-1" \\
        "runs/study/nq-wiki-dense-singles-metric:SL bridge"
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from ragbridge.evaluation.scoring import paired_bootstrap


def scores(spec: str, split: str) -> tuple[list[float], list[float]]:
    """The run's top-1 scores (its fingerprint) and the per-example scores of METHOD."""
    run, _, method = spec.rpartition(":")
    report = json.loads((Path(run) / f"eval-{split}.json").read_text())
    rows = {row["method"]: row["scores"] for row in report["results"]}
    if method in rows:
        return rows["top-1"], rows[method]
    raise SystemExit(f"{run}/eval-{split}.json has no method {method!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", nargs="+", help="RUN:METHOD")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    found = {spec: scores(spec, args.split) for spec in args.methods}
    print("| first | second | mean difference | 95% interval | examples |")
    print("|---|---|---:|---|---:|")
    for first, second in itertools.combinations(args.methods, 2):
        (top1_a, a), (top1_b, b) = found[first], found[second]
        if top1_a != top1_b:
            raise SystemExit(f"{first} and {second} were evaluated on other examples")
        mean, low, high = paired_bootstrap(a, b)
        print(f"| {first} | {second} | {mean:+.1f} | [{low:+.1f}, {high:+.1f}] | {len(a)} |")


if __name__ == "__main__":
    main()
