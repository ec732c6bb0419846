"""Issue 28 item 1: the gap probes of each candidate study LLM side by side, with seconds per
prompt, to choose the study's LLM (it reads, the best single is well above every baseline,
the study fits the budget). Reads what `benchmarks/study_llm_gap.sh` wrote:

    python benchmarks/study_llm_choice.py --runs runs/qwen --out benchmarks/results/qwen/gap

For each run directory `RUN-LLM/` the largest `gap-nN.json` is taken; seconds per prompt come
from the queue log's progress lines (model calls only: a replayed slice is not counted).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

LLMS = {"qwen05": "Qwen2.5-Coder-0.5B (llama.cpp)", "qwen15": "Qwen2.5-Coder-1.5B (llama.cpp)",
        "smollm2": "SmolLM2-135M (fp32)"}
PROGRESS = re.compile(r"== \S+ gap (\S+) .*?\n.*?(\d+):(\d\d):(\d\d) LLM calls (\d+)", re.S)


def seconds_per_prompt(log: Path) -> dict[str, tuple[float, int]]:
    """Run folder name -> (seconds, model calls) summed over the log's measured slices."""
    totals: dict[str, list[float]] = {}
    text = "\n" + log.read_text(errors="replace") if log.exists() else ""
    for block in text.split("\n== ")[1:]:
        match = PROGRESS.match("== " + block)
        if not match:
            continue
        run, hours, minutes, secs, calls = match.groups()
        seconds = int(hours) * 3600 + int(minutes) * 60 + int(secs)
        if int(calls):
            total = totals.setdefault(Path(run).name, [0.0, 0])
            total[0] += seconds
            total[1] += int(calls)
    return {run: (s, int(c)) for run, (s, c) in totals.items()}


def _row(rows: list[dict[str, Any]], name: str, metric: str) -> float:
    return next(r[metric] for r in rows if r["name"] == name)


def summary(gap: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, float]:
    """None, top-1, top-K, the best retriever-order baseline and the best single or none."""
    metric = gap["primary_metric"]
    baselines = [r for r in rows if r["kind"] == "retriever order"]
    return {"none": _row(rows, "no passages", metric), "top-1": _row(rows, "top-1", metric),
            "top-K": _row(rows, "top-K", metric),
            "best baseline": max(r[metric] for r in baselines),
            "best single": _row(rows, "best single (oracle)", metric)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs/qwen"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    speeds = seconds_per_prompt(args.runs / "gap-queue.log")
    lines = ["| task | LLM | dev n | none | top-1 | top-K | best single (or none) | "
             "answerable n | none | top-1 | top-K | best single | s / prompt |",
             "|---" * 13 + "|"]
    found = []
    for folder in sorted(args.runs.glob("*-*")):
        short = folder.name.rsplit("-", 1)[-1]
        probes = sorted(folder.glob("gap-n*.json"), key=lambda p: int(p.stem[5:]))
        if short not in LLMS or not probes:
            continue
        gap = json.loads(probes[-1].read_text())
        every = summary(gap, gap["rows"])
        answerable = gap.get("subsets", {}).get("answerable")
        part = summary(gap, answerable["rows"]) if answerable else None
        seconds, calls = speeds.get(folder.name, (0.0, 0))
        speed = f"{seconds / calls:.2f} ({calls} prompts)" if calls else "-"
        task = folder.name[:-len(short) - 1]
        cells = [task, LLMS[short], str(gap["examples"]),
                 *(f"{every[k]:.1f}" for k in ("none", "top-1", "top-K", "best single"))]
        cells += ([str(answerable["examples"]),
                   *(f"{part[k]:.1f}" for k in ("none", "top-1", "top-K", "best single"))]
                  if part else ["-"] * 5)
        lines.append("| " + " | ".join(cells + [speed]) + " |")
        found.append({"task": task, "llm": LLMS[short], "examples": gap["examples"],
                      "metric": gap["primary_metric"], "all": every, "answerable": part,
                      "answerable examples": answerable["examples"] if answerable else None,
                      "seconds": seconds, "llm calls": calls})
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "choice.md").write_text(table + "\n")
        (args.out / "choice.json").write_text(json.dumps(found, indent=1) + "\n")


if __name__ == "__main__":
    main()
