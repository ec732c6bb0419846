"""The RL stage: PPO (or RLOO) from the SL bridge, or from a fresh family (RL-only)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.bridge import Bridge, build_bridge, is_family
from ragbridge.bridge.model import CONFIG_FILE
from ragbridge.bridge.rl import RLConfig, train_rl
from ragbridge.bridge.sl import SLConfig
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.progress import ProgressCallback
from ragbridge.render import plot_rl
from ragbridge.rundir import RunDir


@dataclass(frozen=True)
class RLStageConfig:
    """Where RL starts, where it writes, which queries it sees, and the trainer's knobs."""

    start: str = field(default="", metadata={
        "help": "SL bridge folder to start from and stay near (default RUN/bridge-sl/model), "
                "or a family (minilm-fid, encoder:PATH) for an RL-only run"})
    out: Path | None = field(default=None, metadata={"help": "Output folder (RUN/bridge-rl)"})
    dev_limit: int | None = field(default=100, metadata={
        "help": "Dev examples evaluated (none: all)"})
    train_limit: int | None = field(default=None, metadata={
        "help": "At most this many train queries to draw rollouts from"})
    trainer: RLConfig = field(default_factory=RLConfig)


@dataclass
class RLReport:
    """The training history and where the best model is."""

    history: dict[str, Any]
    model: Path
    start: str


def _start(run_dir: RunDir, start: str, k: int, config: RLConfig) -> Path | Bridge:
    if not start:
        start = str(run_dir.bridge_path("bridge-sl") / "model")
    folder = Path(start)
    if (folder / CONFIG_FILE).exists():
        trained_k = json.loads((folder / CONFIG_FILE).read_text())["format"]["k"]
        if trained_k != k:
            raise ValueError(f"{folder} reads K={trained_k} candidates, this run has K={k}")
        return folder
    if is_family(start):
        return build_bridge(start, SLConfig().bridge_format(k), config.device, config.seed)
    raise FileNotFoundError(f"{start} is neither a bridge folder nor a family: train one with "
                            "`ragbridge train-sl` or name a family for RL-only")


def run(run_dir: RunDir, config: RLStageConfig, llm: CachedLLM,
        progress: ProgressCallback | None = None,
        on_step: Any = None) -> RLReport:
    """Train (or resume) `RUN/bridge-rl` (or `config.out`); rewards from the run's task."""
    k = run_dir.settings().k
    begin = _start(run_dir, config.start, k, config.trainer)
    train = run_dir.examples("train", config.train_limit, need_silver=False)
    dev = run_dir.examples("dev", config.dev_limit, need_silver=False)
    judge = Judge(run_dir.task(), llm, config.trainer.metric)
    out = config.out or run_dir.bridge_path("bridge-rl")
    with run_dir.lock(f"train-rl {out.name}"):
        history = train_rl(train, dev, judge, begin, config.trainer, out, on_step=on_step,
                           progress=progress)
        plot_rl(history, out / "training.png", f"RL ({config.trainer.algorithm})")
        best = max(history["dev"], key=lambda d: d["metric"]) if history["dev"] else {}
        run_dir.record(f"train-rl:{out.name}", {
            **asdict(config.trainer), "start": str(config.start or begin), "train": len(train),
            "dev": len(dev), "best_dev": best, "selection": history["selection"],
            "llm_calls": history["llm_calls"],
            "seconds": round(history["seconds"], 1)})
    return RLReport(history, out / "model", str(config.start or begin))
