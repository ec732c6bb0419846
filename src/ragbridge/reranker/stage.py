"""The point-wise baseline stage: train the cross-encoder on silver labels, tune its threshold.

Positives are the candidates a train silver sequence uses. The threshold is chosen on dev by
the frozen LLM's utility (through the judge). Writes `RUN/reranker/` (a sentence-transformers
CrossEncoder folder with `threshold.json`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragbridge.folders import save_folder
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.reranker.model import PointwiseReranker, tune_threshold
from ragbridge.rundir import RunDir


@dataclass(frozen=True)
class RerankerConfig:
    """Every knob of the point-wise baseline."""

    epochs: int = field(default=1, metadata={"help": "Training epochs"})
    batch_size: int = field(default=16, metadata={"help": "Pairs per training step"})
    learning_rate: float = field(default=2e-5, metadata={"help": "AdamW learning rate"})
    max_length: int = field(default=256, metadata={"help": "Tokens per (query, passage) pair"})
    dev_limit: int | None = field(default=100, metadata={
        "help": "Dev examples for the threshold (none: all)"})
    seed: int = field(default=0, metadata={"help": "Seed"})
    out: Path | None = field(default=None, metadata={"help": "Output folder (RUN/reranker)"})
    device: str = field(default="cpu", metadata={"help": "cpu | cuda"})


@dataclass
class RerankerReport:
    """The chosen threshold, every trial, and where the reranker is."""

    threshold: float
    trials: list[dict[str, float]]
    folder: Path
    summary: dict[str, Any]


def run(run_dir: RunDir, config: RerankerConfig, llm: CachedLLM) -> RerankerReport:
    """Train on train silver, tune on dev, save."""
    import torch

    train = run_dir.examples("train")
    dev = run_dir.examples("dev", config.dev_limit, need_silver=False)
    folder = config.out or run_dir.reranker_path
    with run_dir.lock("train-reranker"):
        torch.manual_seed(config.seed)
        reranker = PointwiseReranker(max_length=config.max_length, device=config.device)
        losses = reranker.train([(e.query, e.passages, set(e.silver or ())) for e in train],
                                epochs=config.epochs, batch_size=config.batch_size,
                                learning_rate=config.learning_rate, seed=config.seed)
        threshold, trials = tune_threshold(reranker, [e.item for e in dev],
                                           Judge(run_dir.task(), llm))
        reranker.threshold = threshold
        save_folder(folder, reranker.save_pretrained)
        summary = {**asdict(config), "out": str(folder), "k": run_dir.settings().k,
                   "train": len(train), "dev": len(dev), "threshold": threshold,
                   "trials": trials, "final_loss": losses[-1] if losses else None}
        run_dir.record("train-reranker", summary)
    return RerankerReport(threshold, trials, folder, summary)
