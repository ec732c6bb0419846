"""The preference-gap probe: how the frozen LLM reacts to order, selection and repetition.

Reproduces the preliminary study of BGM (Ke et al., 2024) on our own retriever and LLM.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragbridge.judge import Judge
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Candidates, Passage

Arrangement = Callable[[list[Passage], random.Random], list[Passage]]

FIXED_ARRANGEMENTS: dict[str, Arrangement] = {
    "no passages": lambda p, _: [],
    "top-1": lambda p, _: p[:1],
    "top-3": lambda p, _: p[:3],
    "top-K": lambda p, _: list(p),
    "top-K reversed": lambda p, _: list(reversed(p)),
    "top-K shuffled": lambda p, rng: rng.sample(list(p), len(p)),
}


@dataclass
class GapRow:
    """One probed arrangement: the mean of each metric and the mean number of passages."""

    name: str
    kind: str
    scores: dict[str, float]
    passages: float


@dataclass
class GapReport:
    """The probe's result for one task."""

    task: str
    primary_metric: str
    examples: int
    k: int
    rows: list[GapRow] = field(default_factory=list)
    llm_calls: int = 0
    cache_hits: int = 0
    #: QA only: the same rows on the examples with (`answerable`) and without
    #: (`unanswerable`) a gold answer among the K candidates, with their sizes
    subsets: dict[str, list[GapRow]] = field(default_factory=dict)
    subset_sizes: dict[str, int] = field(default_factory=dict)

    def row(self, name: str) -> GapRow:
        """The row of one arrangement."""
        return next(r for r in self.rows if r.name == name)

    def to_dict(self) -> dict:
        """Plain dict for gap.json."""
        return {"task": self.task, "primary_metric": self.primary_metric,
                "examples": self.examples, "k": self.k, "llm_calls": self.llm_calls,
                "cache_hits": self.cache_hits, "rows": _rows_dict(self.rows),
                "subsets": {name: {"examples": self.subset_sizes[name],
                                   "rows": _rows_dict(rows)}
                            for name, rows in self.subsets.items()}}


def _rows_dict(rows: Sequence[GapRow]) -> list[dict]:
    return [{"name": r.name, "kind": r.kind, "passages": r.passages, **r.scores} for r in rows]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _kind(name: str) -> str:
    if name.startswith("top-K ") and name != "top-K":
        return "ranking"
    if name.startswith("single") or name.startswith("best single"):
        return "selection"
    if name.startswith("best repeated"):
        return "repetition"
    return "retriever order"


def run_gap_probe(candidates: Sequence[Candidates], judge: Judge, seed: int = 0,
                  chunk_size: int = 16, progress: ProgressCallback | None = None) -> GapReport:
    """Score every arrangement for every example; prompts of a chunk go to the LLM as one batch."""
    k = max((len(c.hits) for c in candidates), default=0)
    llm, task = judge.llm, judge.task
    calls_before, hits_before = llm.stats.calls, llm.stats.hits
    # per arrangement: (example index, scores, passages) of every probed example
    per_row: dict[str, list[tuple[int, dict[str, float], int]]] = {}

    for start in range(0, len(candidates), chunk_size):
        chunk = candidates[start:start + chunk_size]

        def add(offset: int, name: str, scores: dict[str, float], count: int,
                start: int = start) -> None:
            per_row.setdefault(name, []).append((start + offset, scores, count))

        _probe_chunk(chunk, judge, seed + start, add)
        report(progress, f"gap probe {task.name}", start + len(chunk), len(candidates),
               f"LLM calls {llm.stats.calls - calls_before}, "
               f"cache hits {llm.stats.hits - hits_before}")
    result = GapReport(task.name, judge.metric, len(candidates), k,
                       llm_calls=llm.stats.calls - calls_before,
                       cache_hits=llm.stats.hits - hits_before)
    result.rows = _gap_rows(per_row, task.metrics, set(range(len(candidates))))
    if any(c.example.answers for c in candidates):
        answerable = {n for n, c in enumerate(candidates) if c.answerable}
        for name, members in [("answerable", answerable),
                              ("unanswerable", set(range(len(candidates))) - answerable)]:
            result.subset_sizes[name] = len(members)
            result.subsets[name] = _gap_rows(per_row, task.metrics, members)
    return result


def _gap_rows(per_row: dict[str, list[tuple[int, dict[str, float], int]]],
              metrics: Sequence[str], members: set[int]) -> list[GapRow]:
    """Each arrangement's mean metrics and passages over the examples in `members`."""
    rows = []
    for name, probed in per_row.items():
        kept = [(scores, count) for index, scores, count in probed if index in members]
        means = {m: _mean([scores[m] for scores, _ in kept]) for m in metrics}
        rows.append(GapRow(name, _kind(name), means, _mean([c for _, c in kept])))
    return rows


def _probe_chunk(chunk: Sequence[Candidates], judge: Judge, seed: int,
                 add: Callable[[int, str, dict[str, float], int], None]) -> None:
    """Fixed arrangements and singles in one batch, then the repeated best single."""
    plans: list[tuple[int, str, list[Passage]]] = []
    for offset, item in enumerate(chunk):
        rng = random.Random(seed + offset)
        passages = item.passages
        for name, arrange in FIXED_ARRANGEMENTS.items():
            plans.append((offset, name, arrange(passages, rng)))
        for rank, passage in enumerate(passages, start=1):
            plans.append((offset, f"single #{rank}", [passage]))
    judgments = judge.judge([chunk[o].example for o, _, _ in plans], [p for _, _, p in plans],
                            generate=True, likelihood=False)
    singles: dict[int, list[tuple[float, int, dict[str, float]]]] = {}
    for (offset, name, passages), judgment in zip(plans, judgments, strict=True):
        add(offset, name, judgment.scores, len(passages))
        if name.startswith("single"):
            rank = int(name.split("#")[1])
            singles.setdefault(offset, []).append((judge.metric_of(judgment), -rank,
                                                   judgment.scores))
    repeats: list[tuple[int, list[Passage]]] = []
    for offset, item in enumerate(chunk):
        if not singles.get(offset):
            add(offset, "best single (oracle)", judge.task.score("", item.example), 0)
            continue
        _, negative_rank, best_scores = max(singles[offset], key=lambda s: (s[0], s[1]))
        add(offset, "best single (oracle)", best_scores, 1)
        best = item.passages[-negative_rank - 1]
        repeats.append((offset, [best, best]))
    judgments = judge.judge([chunk[o].example for o, _ in repeats], [p for _, p in repeats],
                            generate=True, likelihood=False)
    for (offset, passages), judgment in zip(repeats, judgments, strict=True):
        add(offset, "best repeated x2", judgment.scores, len(passages))
