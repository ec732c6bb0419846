"""The SL stage: train a bridge on the run's train silver, select the best epoch on dev."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.bridge.sl import SLConfig, train_sl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.progress import ProgressCallback
from ragbridge.render import plot_sl
from ragbridge.rundir import RunDir


@dataclass(frozen=True)
class SLStageConfig:
    """Which silver the SL trainer sees, where it writes, and the trainer's own knobs."""

    limit: int | None = field(default=None, metadata={"help": "At most this many train queries"})
    dev_limit: int | None = field(default=100, metadata={
        "help": "Dev examples evaluated per epoch (none: all)"})
    informative_only: bool = field(default=True, metadata={
        "help": "Train only on searches where some passage changed the metric (measured "
                "better, BENCHMARKS.md); --all-silver keeps every record",
        "negative": "all-silver"})
    out: Path | None = field(default=None, metadata={"help": "Output folder (RUN/bridge-sl)"})
    trainer: SLConfig = field(default_factory=SLConfig)


@dataclass
class SLReport:
    """The training history, where the model is, and what it was trained on."""

    history: dict[str, Any]
    model: Path
    train: int
    dev: int
    metric: str


def run(run_dir: RunDir, config: SLStageConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None,
        on_epoch: Any = None) -> SLReport:
    """Train (or resume) `RUN/bridge-sl` (or `config.out`) on the run's silver."""
    k = run_dir.settings().k
    train = run_dir.examples("train", config.limit,
                          informative_only=config.informative_only)
    dev = run_dir.examples("dev", config.dev_limit, need_silver=False)
    judge = Judge(run_dir.task(), llm)
    out = config.out or run_dir.bridge_path("bridge-sl")
    with run_dir.lock("train-sl"):
        history = train_sl(train, dev, judge, config.trainer, out, k, on_epoch=on_epoch,
                           progress=progress)
        plot_sl(history, out / "training.png", f"SL bridge ({config.trainer.family})")
        run_dir.record("train-sl", {**asdict(config.trainer),
                                    "max_ids": config.trainer.ids_for(k), "k": k,
                                    "train": len(train),
                                    "dev": len(dev), "limit": config.limit,
                                    "informative_only": config.informative_only,
                                    "best_epoch": history["best_epoch"],
                                    "selection": history["selection"], "out": str(out)})
    return SLReport(history, out / "model", len(train), len(dev), judge.metric)
