"""Silver passage sequences (BGM's SL data): a search with the frozen LLM as the judge.

`greedy` (the paper's): for each query, start from the empty sequence; at each step try
appending every candidate (all extensions of all active queries go to the judge as one
batch), keep the best extension if it improves the judge's utility by more than
`min_improvement`, stop when none does or at `max_length`. About K prompts per step per
query, each carrying every passage chosen so far.

`singles` (cheaper): judge the empty prompt and each candidate alone once (the greedy
search's first step), rank the candidates that beat the empty prompt, judge the prefixes of
that ranking of length 2 .. `max_length` (and, with `repeat_best` N, the best single
repeated 2 .. N times: the LLM can gain from repetition), and keep the best of empty, the
best single and those sequences. About K + `max_length` (+ N - 1) prompts per query, most of
them short.

The utility is the task metric of the LLM's output, the likelihood of the reference reply
(dense: no ties), or the metric with ties broken by the likelihood (`Judge`). Each record
keeps the task metric of the empty sequence, of top-K and of the silver sequence (whatever
the utility), the utilities, and the trace of every step.

With `top_k_margin` m, top-K is a silver sequence too: the search's best replaces it only
when it beats top-K's utility by more than m (BENCHMARKS.md / docs/notes/experiments.md:
the labels that never say "all of them" and mostly win by noise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ragbridge.judge import UTILITIES, Judge, Judgment
from ragbridge.records import Candidates
from ragbridge.silver.records import is_informative


@dataclass(frozen=True)
class SilverConfig:
    """Every knob of the silver search, named once."""

    max_length: int = field(default=5, metadata={"help": "Longest silver sequence"})
    allow_repeats: bool = field(default=True, metadata={
        "help": "greedy: allow a passage more than once (singles: see --repeat-best)",
        "flag": "repeats"})
    repeat_best: int = field(default=0, metadata={
        "help": "singles: also judge the best single repeated 2..N times (N may exceed "
                "max_length, which bounds the other prefixes; 0 or 1: never)"})
    utility: str = field(default="metric", metadata={
        "help": f"What the search maximises: {' | '.join(UTILITIES)} (the metric, ties broken "
                "by the reference likelihood)"})
    metric: str | None = field(default=None, metadata={
        "help": "Task metric (default: the task's primary metric)"})
    min_improvement: float = field(default=0.0, metadata={
        "help": "Append only while the utility improves by more than this"})
    strategy: str = field(default="greedy", metadata={
        "help": "greedy (K prompts per step) | singles (each candidate alone, then the best "
                "prefixes of their ranking)"})
    batch_queries: int = field(default=16, metadata={
        "help": "Queries searched together (one LLM batch per step; the resume unit)"})
    judge_top_k: bool = field(default=True, metadata={
        "help": "Also measure top-K in retriever order for the record (one long prompt per "
                "query; the search itself never needs it)", "flag": "top_k"})
    top_k_margin: float | None = field(default=None, metadata={
        "help": "Top-K is a silver too: it is kept unless the search's best beats its "
                "utility by more than this (judges top-K; none: never the silver)"})

    def __post_init__(self) -> None:
        if self.utility not in UTILITIES:
            raise ValueError(f"unknown utility {self.utility!r}: choose one of "
                             f"{', '.join(UTILITIES)}")
        if self.strategy not in ("greedy", "singles"):
            raise ValueError(f"unknown strategy {self.strategy!r}: greedy or singles")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass
class SearchState:
    """One query's search in progress."""

    item: Candidates
    sequence: list[int] = field(default_factory=list)
    utility: float = 0.0
    best: Judgment | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


def _extensions(state: SearchState, config: SilverConfig) -> list[list[int]]:
    if state.done or len(state.sequence) >= config.max_length:
        return []
    count = len(state.item.hits)
    return [state.sequence + [i] for i in range(count)
            if config.allow_repeats or i not in state.sequence]


def _measured(judge: Judge, judgment: Judgment) -> dict[str, float]:
    """The utility and whatever else the judgment holds (metric, mean log-likelihood)."""
    found = {"utility": round(judge.utility(judgment), 6)}
    if judgment.output is not None:
        found["metric"] = judge.metric_of(judgment)
    if judgment.likelihood is not None:
        found["loglik"] = round(judgment.likelihood.mean, 6)
    return found


def search_batch(items: Sequence[Candidates], judge: Judge,
                 config: SilverConfig) -> list[dict[str, Any]]:
    """Search a batch of queries; return one record per query, in order."""
    states = [SearchState(item) for item in items]
    # step 0: the empty sequence (and, for the record, the retriever's top-K order)
    judge_tops = config.judge_top_k or config.top_k_margin is not None
    tops = [list(range(len(s.item.hits))) for s in states] if judge_tops else []
    baselines = judge.judge_positions(
        [s.item for s in states] + [s.item for s in states][:len(tops)],
        [[] for _ in states] + tops, generate=True)
    for number, state in enumerate(states):
        empty = baselines[number]
        state.utility, state.best = judge.utility(empty), empty
        state.trace.append({"empty": _measured(judge, empty)})
        if tops:
            state.trace[-1]["top_k"] = _measured(judge, baselines[len(states) + number])
    if config.strategy == "singles":
        _singles(states, judge, config)
    while config.strategy == "greedy":
        plans = [(state, extension) for state in states for extension in _extensions(state, config)]
        if not plans:
            break
        judgments = judge.judge_positions([s.item for s, _ in plans], [e for _, e in plans])
        tried: dict[int, list[tuple[list[int], Judgment]]] = {}
        for (state, extension), judgment in zip(plans, judgments, strict=True):
            tried.setdefault(id(state), []).append((extension, judgment))
        for state in states:
            if state.done or id(state) not in tried:
                state.done = True
                continue
            options = tried[id(state)]
            best_extension, best = max(options,
                                       key=lambda o: (judge.utility(o[1]), -o[0][-1]))
            improves = judge.utility(best) > state.utility + config.min_improvement
            state.trace.append({"tried": [{"append": e[-1], **_measured(judge, j)}
                                          for e, j in options],
                                "chosen": best_extension[-1] if improves else None})
            if improves:
                state.sequence, state.utility, state.best = (best_extension,
                                                             judge.utility(best), best)
            else:
                state.done = True
    if config.top_k_margin is not None:
        _fall_back_to_top_k(states, baselines[len(states):], judge, config.top_k_margin)
    # the task metric of every final sequence (one batch; free when the utility generated)
    finals = judge.judge_positions([s.item for s in states], [s.sequence for s in states],
                                   generate=True)
    return [_record(state, final, judge) for state, final in zip(states, finals, strict=True)]


def _singles(states: list[SearchState], judge: Judge, config: SilverConfig) -> None:
    """Each candidate alone, then the prefixes of their ranking; keep the best."""
    singles = [(state, [i]) for state in states for i in range(len(state.item.hits))]
    judged = judge.judge_positions([s.item for s, _ in singles], [e for _, e in singles])
    tried: dict[int, list[tuple[int, Judgment]]] = {}
    for (state, (position,)), judgment in zip(singles, judged, strict=True):
        tried.setdefault(id(state), []).append((position, judgment))
    prefixes: list[tuple[SearchState, list[int]]] = []
    for state in states:
        options = tried.get(id(state), [])
        state.trace.append({"tried": [{"append": p, **_measured(judge, j)} for p, j in options],
                            "chosen": None})
        ranked = [p for p, j in sorted(options, key=lambda o: (-judge.utility(o[1]), o[0]))
                  if judge.utility(j) > state.utility + config.min_improvement]
        if ranked:
            best = next(j for p, j in options if p == ranked[0])
            state.sequence, state.utility, state.best = [ranked[0]], judge.utility(best), best
            state.trace[-1]["chosen"] = ranked[0]
        prefixes += [(state, ranked[:n]) for n in range(2, min(config.max_length,
                                                               len(ranked)) + 1)]
        if ranked:
            # every count up to N, whatever max_length: repetition need not pay off at once
            # (on email-subject a passage five times can beat it once while twice does not)
            prefixes += [(state, [ranked[0]] * n) for n in range(2, config.repeat_best + 1)]
    judged = judge.judge_positions([s.item for s, _ in prefixes], [e for _, e in prefixes])
    verified: dict[int, list[dict[str, Any]]] = {}
    for (state, prefix), judgment in zip(prefixes, judged, strict=True):
        verified.setdefault(id(state), []).append({"sequence": prefix,
                                                    **_measured(judge, judgment)})
        if judge.utility(judgment) > state.utility + config.min_improvement:
            state.sequence, state.utility, state.best = prefix, judge.utility(judgment), judgment
    for state in states:
        state.trace.append({"verified": verified.get(id(state), []),
                            "chosen": list(state.sequence)})


def _fall_back_to_top_k(states: list[SearchState], tops: list[Judgment], judge: Judge,
                        margin: float) -> None:
    """Top-K (every candidate in retriever order) wherever the search's best does not beat
    it by more than `margin`: a narrow win of a short sequence is mostly the judge's noise
    (on email-subject half the single-passage silver won by under 0.6 BLEU), and top-K is
    the baseline a bridge must beat."""
    for state, top in zip(states, tops, strict=True):
        kept = judge.utility(state.best) > judge.utility(top) + margin
        state.trace.append({"top_k_margin": margin, "kept_search": kept})
        if not kept:
            state.sequence = list(range(len(state.item.hits)))
            state.utility, state.best = judge.utility(top), top


def _record(state: SearchState, final: Judgment, judge: Judge) -> dict[str, Any]:
    hits = state.item.hits
    first = state.trace[0]
    return {"id": state.item.example.id, "split": state.item.split, "metric": judge.metric,
            "utility": judge.utility_name,
            "candidate_ids": [hit.passage.id for hit in hits],
            "silver": [hits[i].passage.id for i in state.sequence],
            "silver_positions": state.sequence, "score": judge.metric_of(final),
            "scores": final.scores, "utility_score": round(state.utility, 6),
            "empty_score": first["empty"]["metric"],
            "top_k_score": first["top_k"]["metric"] if "top_k" in first else None,
            "empty_utility": first["empty"]["utility"],
            "trace": [{"step": n, **step} for n, step in enumerate(state.trace)]}


@dataclass
class SilverSummary:
    """What the search found, and what it cost."""

    queries: int
    mean_silver: float
    mean_top_k: float | None  # None when top-K was not measured
    mean_empty: float
    mean_length: float
    share_empty: float
    share_repeated: float
    share_informative: float
    llm_calls: int
    cache_hits: int
    seconds: float
    costed: int  # records whose cost the three figures above cover

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def summarize(records: Sequence[dict[str, Any]], llm_calls: int, cache_hits: int,
              seconds: float, costed: int | None = None) -> SilverSummary:
    """Mean silver vs top-K vs empty score, sequence lengths, share empty and repeated."""
    count = max(len(records), 1)
    return SilverSummary(
        queries=len(records),
        mean_silver=sum(r["score"] for r in records) / count,
        mean_top_k=(sum(tops) / len(tops)) if (tops := [r["top_k_score"] for r in records
                                                        if r.get("top_k_score") is not None])
        else None,
        mean_empty=sum(r["empty_score"] for r in records) / count,
        mean_length=sum(len(r["silver"]) for r in records) / count,
        share_empty=100.0 * sum(not r["silver"] for r in records) / count,
        share_repeated=100.0 * sum(len(set(r["silver"])) < len(r["silver"])
                                   for r in records) / count,
        share_informative=100.0 * sum(is_informative(r) for r in records) / count,
        llm_calls=llm_calls, cache_hits=cache_hits, seconds=seconds,
        costed=len(records) if costed is None else costed)
