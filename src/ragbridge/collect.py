"""Copy what a demo or study run measured (tables, JSON, plots; never model weights) into
`benchmarks/results/NAME/`, so that it can be committed beside BENCHMARKS.md.

    ragbridge collect --runs runs/study --name study [--judgments --llm LLM]
    ragbridge collect --runs runs/study --name study --restore

Per run directory: the evaluation (`eval-*.{json,md,png}`), the gap probe, the silver
records (gzipped), their settings and cost, the summaries recorded in `config.json`, and each
trained bridge's and reranker's history, curves and tuned threshold; at the top,
`demo-summary.json` and `demo-results.md`. `--judgments` also exports the LLM's cached
judgments to `judgments.jsonl.gz` there.

A long study can outlive its machine: what is committed here lets another machine resume
it. `--restore` copies the silver records, settings and costs, the test tables and the
summary back into the run folders (never over a file that is there), and `ragbridge demo --judgments
benchmarks/results/NAME/judgments.jsonl.gz` replays the judgments, so the silver stage
resumes with its own cost record and every stage after it finds its LLM calls cached.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

TOP = ("demo-summary.json", "demo-results.md")
PER_RUN = ("eval-*.json", "eval-*.md", "eval-*.png", "gap.json", "gap.md", "gap.png",
           "config.json", "silver*.settings.json", "silver*.cost.json")
PER_MODEL = ("history.json", "training.png", "threshold.json")  # threshold: the reranker's tuning
SILVER = "silver*.jsonl"  # gzipped in the results (the records of a study are megabytes)


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
        for source in sorted(run.glob(SILVER)):
            target = out / run.name / f"{source.name}.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            # no timestamp in the header: an unchanged file packs to the same bytes
            with open(source, "rb") as raw, gzip.GzipFile(target, "wb", mtime=0) as packed:
                shutil.copyfileobj(raw, packed)
            written.append(target)
        for model in sorted(p for p in run.iterdir() if p.is_dir()):
            for name in PER_MODEL:
                if (model / name).exists():
                    copy(model / name, out / run.name / f"{model.name}-{name}")
    return written


def _copy_if_missing(source: Path, target: Path, written: list[Path]) -> None:
    """Copy `source` to `target` unless the target is there (a run's own file is kept)."""
    if source.exists() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)


def restore(results: Path, runs: Path) -> list[Path]:
    """Copy the committed silver records, settings and costs, the test tables and the
    summary of `results` back under `runs` (a file already there is kept); returns what it
    wrote."""
    written: list[Path] = []
    if not results.is_dir():
        return written
    # the summary and the test tables, so that a run of some tasks keeps the others' tables
    for source in [*(results / name for name in TOP),
                   *(p for p in sorted(results.glob("*/eval-test.*")) if p.suffix != ".png")]:
        _copy_if_missing(source, runs / source.relative_to(results), written)
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        run = runs / folder.name
        for source in sorted(folder.glob(f"{SILVER}.gz")):
            target = run / source.name.removesuffix(".gz")
            if target.exists():
                continue
            run.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            with gzip.open(source, "rb") as packed, open(partial, "wb") as raw:
                shutil.copyfileobj(packed, raw)
            partial.replace(target)
            written.append(target)
            for kept in (f"{target.stem}.settings.json", f"{target.stem}.cost.json"):
                _copy_if_missing(folder / kept, run / kept, written)
    return written


def export_judgments(out: Path, llm: str) -> int:
    """The LLM's cached judgments, as the file `ragbridge demo --judgments` replays."""
    from ragbridge.llms import build_llm
    from ragbridge.paths import llm_cache_path
    from ragbridge.replay import export_judgments as export

    return export(llm_cache_path(), build_llm(llm).identity, out / "judgments.jsonl.gz")
