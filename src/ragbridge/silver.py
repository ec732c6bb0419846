"""Silver passage sequences (BGM's SL data): greedy search with the frozen LLM as the judge.

For each query, start from the empty sequence; at each step try appending every candidate
(all extensions of all active queries go to the LLM as one batch), keep the best extension
if it strictly improves the task metric, stop when none does or at `max_length`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates
from ragbridge.tasks import Task


@dataclass(frozen=True)
class SilverConfig:
    """Every knob of the silver search, named once."""

    max_length: int = 5
    allow_repeats: bool = True
    metric: str | None = None  # default: the task's primary metric
    batch_queries: int = 16  # queries whose steps are batched together (and checkpointed)
    k: int | None = None  # use only the top k candidates


@dataclass
class SearchState:
    """One query's search in progress."""

    item: Candidates
    sequence: list[int] = field(default_factory=list)
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    trace: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


def _extensions(state: SearchState, config: SilverConfig) -> list[list[int]]:
    if state.done or len(state.sequence) >= config.max_length:
        return []
    count = len(state.item.hits)
    return [state.sequence + [i] for i in range(count)
            if config.allow_repeats or i not in state.sequence]


def _prompt(task: Task, item: Candidates, sequence: Sequence[int]) -> str:
    return task.build_prompt(item.example, [item.hits[i].passage for i in sequence])


def search_batch(items: Sequence[Candidates], task: Task, llm: CachedLLM,
                 config: SilverConfig) -> list[dict[str, Any]]:
    """Run the greedy search for a batch of queries; return one record per query, in order."""
    metric = config.metric or task.primary_metric
    states = [SearchState(item) for item in items]
    # step 0: the empty sequence and the retriever's top-K order, all queries in one batch
    baseline_prompts = [_prompt(task, s.item, []) for s in states]
    baseline_prompts += [_prompt(task, s.item, range(len(s.item.hits))) for s in states]
    outputs = llm.generate(baseline_prompts, task.generation)
    for number, state in enumerate(states):
        empty = task.score(outputs[number], state.item.example)
        top_k = task.score(outputs[len(states) + number], state.item.example)
        state.score, state.scores = empty[metric], empty
        state.trace.append({"empty": empty[metric], "top_k": top_k[metric]})
    while True:
        plans = [(state, extension) for state in states for extension in _extensions(state, config)]
        if not plans:
            break
        outputs = llm.generate([_prompt(task, s.item, e) for s, e in plans], task.generation)
        tried: dict[int, list[tuple[list[int], dict[str, float]]]] = {}
        for (state, extension), output in zip(plans, outputs, strict=True):
            tried.setdefault(id(state), []).append((extension, task.score(output,
                                                                          state.item.example)))
        for state in states:
            if state.done or id(state) not in tried:
                state.done = True
                continue
            options = tried[id(state)]
            best_extension, best_scores = max(options, key=lambda o: (o[1][metric], -o[0][-1]))
            improves = best_scores[metric] > state.score
            state.trace.append({"tried": [{"append": e[-1], "score": s[metric]}
                                          for e, s in options],
                                "chosen": best_extension[-1] if improves else None})
            if improves:
                state.sequence, state.score, state.scores = best_extension, best_scores[metric], \
                    best_scores
            else:
                state.done = True
    return [_record(state, metric) for state in states]


def _record(state: SearchState, metric: str) -> dict[str, Any]:
    hits = state.item.hits
    first = state.trace[0]
    return {"id": state.item.example.id, "split": state.item.split, "metric": metric,
            "silver": [hits[i].passage.id for i in state.sequence],
            "silver_positions": state.sequence, "score": state.score, "scores": state.scores,
            "empty_score": first["empty"], "top_k_score": first["top_k"],
            "trace": [{"step": n, **step} for n, step in enumerate(state.trace)]}
