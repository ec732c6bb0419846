"""The point-wise baseline: a MiniLM cross-encoder scoring each (query, passage) on its own.

BGM's point-wise reranker: trained on the silver labels (a candidate is positive when the
silver sequence uses it), it keeps the candidates it scores above a threshold (tuned on dev)
in descending score order. The model is a sentence-transformers `CrossEncoder` warm-started
from the bundled all-MiniLM-L6-v2 (the classification head is new); training is a plain
binary cross-entropy loop over its transformers model. sentence-transformers'
`CrossEncoderTrainer` with the same loss measured no better (dev ROC-AUC 0.531 +- 0.047
against this loop's 0.545 +- 0.034, 3 seeds, `experiments/reranker_trainer.py`) and needs
`datasets` and `accelerate`, which nothing else here does; so the loop stays.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ragbridge.jsonl import write_json
from ragbridge.records import Candidates, Passage

if TYPE_CHECKING:
    from ragbridge.judge import Judge

THRESHOLD_FILE = "threshold.json"
QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.98)


def _pair_text(passage: Passage) -> str:
    return f"{passage.title}: {passage.text}" if passage.title else passage.text


class PointwiseReranker:
    """Scores candidates independently; keeps those above `threshold`, best first.

    A `Selector`: `select_batch(queries, candidate_lists)`.
    """

    def __init__(self, path: str | Path | None = None, max_length: int = 256,
                 device: str = "cpu", threshold: float = 0.0) -> None:
        from sentence_transformers import CrossEncoder

        from ragbridge.assets import minilm_dir

        self.encoder = CrossEncoder(str(path or minilm_dir()), num_labels=1,
                                    max_length=max_length, device=device)
        self.threshold = threshold

    def scores(self, query: str, passages: Sequence[Passage]) -> list[float]:
        """One logit per passage (higher: more useful to the LLM)."""
        if not passages:
            return []
        pairs = [(query, _pair_text(p)) for p in passages]
        values = self.encoder.predict(pairs, activation_fn=torch.nn.Identity(),
                                      show_progress_bar=False, convert_to_numpy=True)
        return [float(v) for v in values]

    def select(self, query: str, passages: Sequence[Passage]) -> list[int]:
        """Positions of the passages scored above the threshold, best first."""
        return above(self.scores(query, passages), self.threshold)

    def select_batch(self, queries: Sequence[str],
                     candidate_lists: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """`select` for many queries (one scoring call per query)."""
        return [self.select(q, c) for q, c in zip(queries, candidate_lists, strict=True)]

    def train(self, examples: Sequence[tuple[str, Sequence[Passage], set[int]]],
              epochs: int = 1, batch_size: int = 16, learning_rate: float = 2e-5,
              seed: int = 0) -> list[float]:
        """Binary cross-entropy on (query, passage, used-by-silver) pairs; returns losses."""
        model, tokenizer = self.encoder.model, self.encoder.tokenizer
        pairs: list[tuple[str, str, float]] = [
            (query, _pair_text(p), float(n in positive))
            for query, passages, positive in examples for n, p in enumerate(passages)]
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
        positives = sum(label for *_, label in pairs)
        weight = torch.tensor((len(pairs) - positives) / max(positives, 1.0))
        losses: list[float] = []
        model.train()
        for epoch in range(epochs):
            random.Random(seed + epoch).shuffle(pairs)
            for start in range(0, len(pairs), batch_size):
                batch = pairs[start:start + batch_size]
                encoded = tokenizer([q for q, _, _ in batch], [t for _, t, _ in batch],
                                    padding=True, truncation=True,
                                    max_length=self.encoder.max_seq_length, return_tensors="pt")
                encoded = {k: v.to(model.device) for k, v in encoded.items()}
                logits = model(**encoded).logits.squeeze(-1)
                labels = torch.tensor([label for *_, label in batch], device=model.device)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels, pos_weight=weight.to(model.device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        model.eval()
        return losses

    def save_pretrained(self, path: str | Path) -> None:
        """A sentence-transformers CrossEncoder folder with `threshold.json` beside it."""
        self.encoder.save_pretrained(str(path))
        write_json(Path(path) / THRESHOLD_FILE, {"threshold": self.threshold})

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> PointwiseReranker:
        """A folder written by `save_pretrained`, with its tuned threshold (held against a
        concurrent save while it loads)."""
        from ragbridge.folders import reading

        with reading(path) as folder:
            file = folder / THRESHOLD_FILE
            if not file.exists():
                raise FileNotFoundError(f"{file} missing: not a tuned reranker folder "
                                        "(train one with `ragbridge train-reranker`)")
            threshold = float(json.loads(file.read_text())["threshold"])
            return cls(folder, device=device, threshold=threshold)

    def to_dict(self) -> dict[str, Any]:
        """Settings worth recording."""
        return {"threshold": self.threshold, "max_length": self.encoder.max_seq_length}


def above(scores: Sequence[float], threshold: float) -> list[int]:
    """Positions of the scores above `threshold`, highest first."""
    ranked = sorted(enumerate(scores), key=lambda s: -s[1])
    return [position for position, score in ranked if score > threshold]


def tune_threshold(reranker: PointwiseReranker, dev: Sequence[Candidates],
                   judge: Judge) -> tuple[float, list[dict[str, float]]]:
    """The threshold with the best dev metric (ties: the fewer passages) and every trial.

    Candidates are score quantiles of the dev candidates, from "keep every candidate,
    reranked" (-inf) to "keep none" (+inf).
    """
    scores = [reranker.scores(c.example.query, c.passages) for c in dev]
    pooled = sorted(s for row in scores for s in row)
    if not pooled:
        raise ValueError("no dev candidates to tune the reranker threshold on")
    thresholds = [-math.inf] + [pooled[min(int(q * len(pooled)), len(pooled) - 1)]
                                for q in QUANTILES] + [math.inf]
    trials = []
    for threshold in dict.fromkeys(thresholds):
        chosen = [above(row, threshold) for row in scores]
        utilities = judge.metrics(dev, chosen)
        trials.append({"threshold": threshold, "metric": sum(utilities) / len(dev),
                       "passages": sum(len(c) for c in chosen) / len(dev)})
    best = max(trials, key=lambda t: (t["metric"], -t["passages"]))
    return best["threshold"], trials
