"""Copy what a demo or study run measured (tables, JSON, plots; never model weights) into
`benchmarks/results/NAME/`, so that it can be committed beside BENCHMARKS.md.

    python benchmarks/collect_results.py --runs runs/study --name study

Per run directory: the evaluation (`eval-*.{json,md,png}`), the gap probe, the silver
summaries and settings recorded in `config.json`, and each trained bridge's and reranker's
history and curves; at the top, `demo-summary.json` and `demo-results.md`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TOP = ("demo-summary.json", "demo-results.md")
PER_RUN = ("eval-*.json", "eval-*.md", "eval-*.png", "gap.json", "gap.md", "gap.png",
           "config.json", "silver*.settings.json", "silver*.cost.json")
PER_MODEL = ("history.json", "training.png")


def collect(runs: Path, out: Path) -> list[Path]:
    """Copy the measured files of every run under `runs` into `out`; returns what it wrote."""
    written = []

    def copy(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)

    for name in TOP:
        if (runs / name).exists():
            copy(runs / name, out / name)
    for run in sorted(p for p in runs.iterdir() if (p / "config.json").exists()):
        for pattern in PER_RUN:
            for source in sorted(run.glob(pattern)):
                copy(source, out / run.name / source.name)
        for model in sorted(p for p in run.iterdir() if p.is_dir()):
            for name in PER_MODEL:
                if (model / name).exists():
                    copy(model / name, out / run.name / f"{model.name}-{name}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    written = collect(args.runs, args.out / args.name)
    print(f"{len(written)} files copied into {args.out / args.name}")


if __name__ == "__main__":
    main()
