"""Downstream evaluation: the frozen LLM's task metric for each way of choosing passages.

A *method* is a named `Selector` (no retrieval, top-k in retriever order, the point-wise
reranker, a bridge, the silver oracle). For each: the mean task metric, the mean number of
passages and prompt tokens put in front of the LLM, the selection time per query, and how
varied its choices are (a selector that emits one constant sequence whatever its input shows
as 1 distinct sequence). `paired_bootstrap` gives a confidence interval for the difference
of two methods on the same examples.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ragbridge.judge import Judge
from ragbridge.records import Candidates
from ragbridge.selectors import Selector

Kind = Literal["baseline", "bridge", "oracle"]


@dataclass
class Diversity:
    """How varied a selector's choices are over a set of queries."""

    first_is_top1: float  # % of queries whose first chosen passage is the retriever's first
    empty: float  # % of queries with no passage chosen
    mean_length: float
    distinct: int  # distinct position sequences
    most_common_share: float  # % of queries given the single most common sequence

    @classmethod
    def of(cls, chosen: Sequence[Sequence[int]]) -> Diversity:
        """Diversity of a list of position sequences."""
        count = max(len(chosen), 1)
        tallies: dict[tuple[int, ...], int] = {}
        for positions in chosen:
            tallies[tuple(positions)] = tallies.get(tuple(positions), 0) + 1
        return cls(first_is_top1=100.0 * sum(bool(c) and c[0] == 0 for c in chosen) / count,
                   empty=100.0 * sum(not c for c in chosen) / count,
                   mean_length=sum(len(c) for c in chosen) / count, distinct=len(tallies),
                   most_common_share=100.0 * max(tallies.values(), default=0) / count)


@dataclass
class MethodResult:
    """One method on one split."""

    method: str
    kind: Kind
    metric: float
    passages: float
    prompt_tokens: float
    select_ms: float
    diversity: Diversity
    scores: list[float] = field(repr=False, default_factory=list)
    positions: list[list[int]] = field(repr=False, default_factory=list)
    tokens: list[int] = field(repr=False, default_factory=list)

    def subset(self, keep: Sequence[bool]) -> MethodResult:
        """The same method on the examples where `keep` is true (no new LLM call)."""
        rows = [n for n, flag in enumerate(keep) if flag]
        count = max(len(rows), 1)
        chosen = [self.positions[n] for n in rows]
        return MethodResult(self.method, self.kind, sum(self.scores[n] for n in rows) / count,
                            sum(len(c) for c in chosen) / count,
                            sum(self.tokens[n] for n in rows) / count, self.select_ms,
                            Diversity.of(chosen), [self.scores[n] for n in rows], chosen,
                            [self.tokens[n] for n in rows])

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (per-example scores and positions included)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> MethodResult:
        """Inverse of `to_dict`."""
        return cls(**{**record, "diversity": Diversity(**record["diversity"])})


def evaluate_selector(name: str, selector: Selector, items: Sequence[Candidates], judge: Judge,
                      kind: Kind = "bridge") -> MethodResult:
    """Select, prompt the frozen LLM (batched, cached), score every output."""
    started = time.perf_counter()
    chosen = selector.select_batch([c.example.query for c in items],
                                   [c.passages for c in items])
    select_ms = 1000 * (time.perf_counter() - started) / max(len(items), 1)
    judgments = judge.judge_positions(items, chosen, generate=True, likelihood=False)
    scores = [judge.metric_of(j) for j in judgments]
    tokens = [judge.prompt_tokens(j.prompt) for j in judgments]
    n = max(len(items), 1)
    return MethodResult(
        name, kind, sum(scores) / n, sum(len(c) for c in chosen) / n, sum(tokens) / n,
        select_ms, Diversity.of(chosen), scores, [list(c) for c in chosen], tokens)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], samples: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of a-b and its 95% interval, resampling examples with replacement."""
    if len(a) != len(b) or not a:
        raise ValueError("paired bootstrap needs two equally long, non-empty score lists")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    generator = random.Random(seed)
    means = sorted(sum(generator.choices(diffs, k=len(diffs))) / len(diffs)
                   for _ in range(samples))
    return sum(diffs) / len(diffs), means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


@dataclass
class Comparison:
    """A method against the best baseline: mean difference and its 95% interval."""

    method: str
    baseline: str
    mean: float
    low: float
    high: float
    examples: int
    gap_closed: float | None = None  # % of the best baseline -> oracle gap the method closes

    def line(self) -> str:
        """One sentence for tables and logs."""
        closed = "" if self.gap_closed is None else (
            f"; closes {self.gap_closed:.0f}% of the gap from the best baseline to the oracle")
        return (f"{self.method} vs best baseline ({self.baseline}): {self.mean:+.1f} "
                f"[95% CI {self.low:+.1f}, {self.high:+.1f}], paired bootstrap over "
                f"{self.examples} examples{closed}")


def compare_with_best_baseline(results: Sequence[MethodResult],
                               method: str) -> Comparison:
    """`method` against the baseline (kind "baseline") with the highest mean metric."""
    by_name = {r.method: r for r in results}
    baselines = [r for r in results if r.kind == "baseline"]
    if method not in by_name or not baselines:
        raise ValueError(f"need the method {method!r} and at least one baseline")
    best = max(baselines, key=lambda r: r.metric)
    mean, low, high = paired_bootstrap(by_name[method].scores, best.scores)
    oracle = next((r for r in results if r.kind == "oracle"), None)
    closed = (100.0 * (by_name[method].metric - best.metric) / (oracle.metric - best.metric)
              if oracle is not None and oracle.metric > best.metric else None)
    return Comparison(method, best.method, mean, low, high, len(best.scores), closed)
