"""What a constant single passage scores, per retriever position, from the silver traces.

The singles search scored the empty prompt and every single candidate for each query, so the
task metric of "always the passage at position i" is in the trace: no LLM call. A bridge (or
reranker) whose metric is no better than the best position's has learned a position prior,
not to read its input.

    python experiments/singles_by_position.py --run runs/study/email-subject-bm25

Prints, per split: queries with a complete first-step trace, the mean metric of each constant
single `<p1>`..`<pK>` and of `<empty>`, and of the best single per query (the single oracle).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ragbridge.jsonl import read_jsonl
from ragbridge.rundir import RunDir
from ragbridge.silver.records import first_step_utilities


def by_position(records: list[dict], k: int) -> dict[str, float | int]:
    """Mean utility of each constant single and of the empty prompt, on complete traces."""
    traced = [u for r in records if (u := first_step_utilities(r, k)) is not None
              and all(x is not None for x in u)]
    if not traced:
        return {"queries": 0}
    found: dict[str, float | int] = {"queries": len(traced)}
    for position in range(k):
        found[f"<p{position + 1}>"] = statistics.mean(u[position] for u in traced)
    found["<empty>"] = statistics.mean(u[k] for u in traced)
    found["best single"] = statistics.mean(max(u) for u in traced)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--splits", nargs="+", default=["train", "dev", "test"])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/singles_by_position"))
    args = parser.parse_args()
    run = RunDir(args.run)
    k = run.settings().k
    table = {}
    for split in args.splits:
        path = run.silver_path(split)
        if path.exists():
            table[split] = by_position(list(read_jsonl(path)), k)
    columns = [f"<p{i + 1}>" for i in range(k)] + ["<empty>", "best single"]
    print("| split | queries | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for split, row in table.items():
        print(f"| {split} | {row['queries']} | "
              + " | ".join(f"{row.get(c, float('nan')):.1f}" for c in columns) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.run.name}.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
