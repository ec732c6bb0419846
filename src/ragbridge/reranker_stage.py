"""The point-wise baseline stage: train the cross-encoder on silver labels, tune its threshold.

Positives are the candidates a train silver sequence uses. The threshold is chosen on dev by
the frozen LLM's task metric (through the cache) among score quantiles of the dev candidates,
from "keep every candidate, reranked" to "keep none". Writes `RUN/reranker/` (a
sentence-transformers CrossEncoder folder) and `RUN/reranker/threshold.json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragbridge.bridge.data import BridgeExample, load_bridge_examples
from ragbridge.jsonl import write_json
from ragbridge.llms import CachedLLM
from ragbridge.reranker import PointwiseReranker
from ragbridge.rundir import RunDir
from ragbridge.tasks import Task, get_task

QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.98)


def _select(scores: Sequence[float], threshold: float) -> list[int]:
    ranked = sorted(enumerate(scores), key=lambda s: -s[1])
    return [position for position, score in ranked if score > threshold]


def tune_threshold(reranker: PointwiseReranker, dev: Sequence[BridgeExample], task: Task,
                   llm: CachedLLM) -> tuple[float, list[dict[str, float]]]:
    """The threshold with the best dev metric (ties: the fewer passages) and every trial."""
    scores = [reranker.scores(e.query, e.passages) for e in dev]
    pooled = sorted(s for row in scores for s in row)
    if not pooled:
        raise ValueError("no dev candidates to tune the reranker threshold on")
    thresholds = [-math.inf] + [pooled[min(int(q * len(pooled)), len(pooled) - 1)]
                                for q in QUANTILES] + [math.inf]
    trials = []
    for threshold in dict.fromkeys(thresholds):
        chosen = [_select(row, threshold) for row in scores]
        prompts = [task.build_prompt(e.item.example, [e.passages[p] for p in positions])
                   for e, positions in zip(dev, chosen, strict=True)]
        outputs = llm.generate(prompts, task.generation)
        metric = sum(task.score(o, e.item.example)[task.primary_metric]
                     for o, e in zip(outputs, dev, strict=True)) / len(dev)
        trials.append({"threshold": threshold, "metric": metric,
                       "passages": sum(len(c) for c in chosen) / len(dev)})
    best = max(trials, key=lambda t: (t["metric"], -t["passages"]))
    return best["threshold"], trials


def train_reranker_stage(run: RunDir, llm: CachedLLM, k: int = 5, epochs: int = 1,
                         dev_limit: int | None = 100, out: Path | None = None,
                         device: str = "cpu") -> dict[str, Any]:
    """Train on train silver, tune on dev, save; returns what was recorded."""
    task = get_task(run.config().get("retrieve", {}).get("task", "qa"))
    train = load_bridge_examples(run, "train", k)
    dev = load_bridge_examples(run, "dev", k, dev_limit, need_silver=False)
    reranker = PointwiseReranker(device=device)
    losses = reranker.train([(e.query, e.passages, set(e.silver or ())) for e in train],
                            epochs=epochs)
    threshold, trials = tune_threshold(reranker, dev, task, llm)
    reranker.threshold = threshold
    folder = out or run.path / "reranker"
    reranker.save_pretrained(folder)
    summary = {"k": k, "epochs": epochs, "train": len(train), "dev": len(dev),
               "threshold": threshold, "trials": trials, "final_loss": losses[-1]}
    write_json(folder / "threshold.json", {"threshold": threshold, "trials": trials})
    run.record("train-reranker", summary)
    return summary


def load_tuned_reranker(folder: Path, device: str = "cpu") -> PointwiseReranker:
    """A reranker folder written by `train_reranker_stage`, with its tuned threshold."""
    threshold = json.loads((folder / "threshold.json").read_text())["threshold"]
    return PointwiseReranker(folder, device=device, threshold=float(threshold))
