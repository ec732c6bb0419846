"""Downstream evaluation: the frozen LLM's task metric for each way of choosing passages.

A *method* maps each example's candidates to the positions the LLM sees (no retrieval,
top-k in retriever order, a bridge, the silver oracle, ...). For each method: the mean task
metric, the mean number of passages and prompt tokens put in front of the LLM, and the
selection time per query. `paired_bootstrap` gives a confidence interval for the difference
of two methods on the same examples.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates
from ragbridge.tasks import Task

Selector = Callable[[Sequence[Candidates]], list[list[int]]]


@dataclass
class MethodResult:
    """One method on one split."""

    method: str
    metric: float
    passages: float
    prompt_tokens: float
    select_ms: float
    scores: list[float] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (per-example scores included)."""
        return asdict(self)


def token_counter(llm: CachedLLM) -> Callable[[str], int]:
    """Prompt length in the LLM's own tokens when its tokenizer is at hand, else in words."""
    tokenizer = getattr(llm.llm, "tokenizer", None)
    if tokenizer is None:
        return lambda text: len(text.split())
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def top_k_selector(k: int | None) -> Selector:
    """The retriever's first k candidates in its order (None: all; 0: no retrieval)."""
    def select(items: Sequence[Candidates]) -> list[list[int]]:
        return [list(range(len(c.hits) if k is None else min(k, len(c.hits)))) for c in items]
    return select


def evaluate_method(name: str, items: Sequence[Candidates], select: Selector, task: Task,
                    llm: CachedLLM) -> MethodResult:
    """Select, prompt the frozen LLM (batched, cached), score every output."""
    started = time.perf_counter()
    chosen = select(items)
    select_ms = 1000 * (time.perf_counter() - started) / max(len(items), 1)
    prompts = [task.build_prompt(c.example, [c.hits[p].passage for p in positions])
               for c, positions in zip(items, chosen, strict=True)]
    outputs = llm.generate(prompts, task.generation)
    scores = [task.score(o, c.example)[task.primary_metric]
              for o, c in zip(outputs, items, strict=True)]
    count = token_counter(llm)
    n = max(len(items), 1)
    return MethodResult(name, sum(scores) / n, sum(len(c) for c in chosen) / n,
                        sum(count(p) for p in prompts) / n, select_ms, scores)


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


def results_markdown(results: Sequence[MethodResult], title: str, metric: str) -> str:
    """A Markdown table of the methods."""
    lines = [f"**{title}**", "", f"| method | {metric} | passages | prompt tokens | "
             "select ms/query |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r.method} | {r.metric:.1f} | {r.passages:.2f} | {r.prompt_tokens:.0f} | "
              f"{r.select_ms:.1f} |" for r in results]
    return "\n".join(lines)


def plot_results(results: Sequence[MethodResult], path: Any, title: str, metric: str) -> None:
    """Bar chart of the metric per method, passages annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.8))
    bars = axis.barh([r.method for r in results][::-1], [r.metric for r in results][::-1],
                     color="#4c72b0")
    for bar, result in zip(bars, list(results)[::-1], strict=True):
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                  f" {result.metric:.1f} ({result.passages:.1f} p)", va="center", fontsize=8)
    axis.set(xlabel=metric, title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
