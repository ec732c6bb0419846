"""The gap stage: the preference-gap probe on one split, written as gap.{json,md,png}."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from ragbridge.gap.probe import GapReport, run_gap_probe
from ragbridge.jsonl import write_json
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.progress import ProgressCallback
from ragbridge.render import gap_markdown, plot_gap, write_markdown
from ragbridge.rundir import RunDir


@dataclass(frozen=True)
class GapConfig:
    """Which examples the probe reads."""

    split: str = field(default="dev", metadata={"help": "Split to probe"})
    n: int = field(default=200, metadata={"help": "Number of examples", "aliases": ("-n",)})
    seed: int = field(default=0, metadata={"help": "Seed of the shuffled arrangement"})


@dataclass
class GapStageReport:
    """The probe's table, its title and what it cost."""

    report: GapReport
    title: str
    seconds: float


def run(run_dir: RunDir, config: GapConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None) -> GapStageReport:
    """Probe the first n examples of the split with the run's K candidates."""
    settings = run_dir.settings()
    candidates = [replace(c, hits=c.hits[:settings.k])
                  for c in run_dir.candidates(config.split)[:config.n]]
    if not candidates:
        raise ValueError(f"no candidates for split {config.split!r} in {run_dir.path}")
    with run_dir.lock("gap"):
        started = time.perf_counter()
        report = run_gap_probe(candidates, Judge(run_dir.task(), llm), seed=config.seed,
                               progress=progress)
        seconds = time.perf_counter() - started
        title = f"{settings.dataset} ({config.split})"
        write_json(run_dir.path / "gap.json",
                   {**report.to_dict(), "seconds": seconds, "llm": llm.identity})
        write_markdown(run_dir.path / "gap.md", [gap_markdown(report, title)])
        plot_gap(report, run_dir.path / "gap.png", title)
        run_dir.record("gap", {**asdict(config), "n": len(candidates), "k": settings.k,
                               "llm": llm.identity, "seconds": round(seconds, 1)})
    return GapStageReport(report, title, seconds)
