"""The Judge: the one place that turns (example, passage sequence) into a prompt, asks the
frozen LLM and measures the result.

Two measurements, from the same cached LLM:

- the **task metric** of the LLM's greedy output (what users see; what evaluation reports);
- the **likelihood** of the reference reply (the gold answer, the real subject) given the
  prompt, teacher-forced: one forward pass, no decoding, dense (no ties). For several gold
  answers the best per-token mean counts.

A judge's `utility` is what a silver search, an RL reward or a threshold maximises:
`metric`, `likelihood`, or `metric+likelihood` (the metric, ties broken by the likelihood).
Silver search, SL dev evaluation, RL rewards, the reranker's threshold tuning, the gap probe
and evaluation all call `Judge.judge`; every request is batched and cached, so the same
judgment is never computed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragbridge.records import Candidates, Example, Passage

if TYPE_CHECKING:
    from ragbridge.llms import CachedLLM
    from ragbridge.llms.base import LogLikelihood
    from ragbridge.tasks import Task

UTILITIES = ("metric", "likelihood", "metric+likelihood")
TIE_BREAK = 1e-3  # weight of the mean log-likelihood under `metric+likelihood`


@dataclass(frozen=True)
class Judgment:
    """What the judge measured for one prompt: the LLM's output and every task metric
    (0-100) when it generated, the reference likelihood when it scored."""

    prompt: str
    output: str | None
    scores: dict[str, float]
    passages: int
    likelihood: LogLikelihood | None = None


class Judge:
    """A task and a cached frozen LLM: prompts in one batch, measured as the utility needs."""

    def __init__(self, task: Task, llm: CachedLLM, metric: str | None = None,
                 utility: str = "metric",
                 references: Callable[[Example], list[str]] | None = None) -> None:
        if metric is not None and metric not in task.metrics:
            raise ValueError(f"task {task.name!r} has no metric {metric!r}: choose one of "
                             f"{', '.join(task.metrics)}")
        if utility not in UTILITIES:
            raise ValueError(f"unknown utility {utility!r}: choose one of {', '.join(UTILITIES)}")
        self.task = task
        self.llm = llm
        self.metric = metric or task.primary_metric
        self.utility_name = utility
        self.references = references or getattr(task, "references", None) or (lambda _: [])
        self._count_tokens: Callable[[str], int] | None = None
        self._unit = "words"

    @property
    def needs_output(self) -> bool:
        """Whether the utility reads the generated output."""
        return self.utility_name != "likelihood"

    @property
    def needs_likelihood(self) -> bool:
        """Whether the utility reads the reference likelihood."""
        return self.utility_name != "metric"

    def judge(self, examples: Sequence[Example], passage_lists: Sequence[Sequence[Passage]],
              generate: bool | None = None, likelihood: bool | None = None) -> list[Judgment]:
        """One judgment per (example, ordered passages): batched, cached LLM calls.

        By default it measures what the utility needs; `generate`/`likelihood` ask for more
        (evaluation always wants the task metric of the output).
        """
        generate = self.needs_output if generate is None else generate
        likelihood = self.needs_likelihood if likelihood is None else likelihood
        prompts = [self.task.build_prompt(e, p)
                   for e, p in zip(examples, passage_lists, strict=True)]
        outputs: list[str | None] = [None] * len(prompts)
        likelihoods: list[LogLikelihood | None] = [None] * len(prompts)
        if generate and likelihood and prompts:  # one pass over each prompt for both
            references = self._references(examples)
            texts, scored = self.llm.generate_and_score(prompts, self.task.generation,
                                                        references)
            outputs = list(texts)
            likelihoods = [max(values, key=lambda v: v.mean) for values in scored]
        elif generate and prompts:
            outputs = list(self.llm.generate(prompts, self.task.generation))
        elif likelihood and prompts:
            likelihoods = list(self.likelihoods(examples, prompts))
        return [Judgment(prompt, output,
                         self.task.score(output, example) if output is not None else {},
                         len(passages), value)
                for prompt, output, example, passages, value
                in zip(prompts, outputs, examples, passage_lists, likelihoods, strict=True)]

    def likelihoods(self, examples: Sequence[Example],
                    prompts: Sequence[str]) -> list[LogLikelihood]:
        """Per prompt, the likelihood of its example's best reference (by per-token mean),
        all (prompt, reference) pairs scored in one batched, cached call."""
        pairs = [(n, prompt, reference)
                 for n, (references, prompt) in enumerate(zip(self._references(examples),
                                                              prompts, strict=True))
                 for reference in references]
        values = self.llm.score([p for _, p, _ in pairs], [r for _, _, r in pairs])
        best: dict[int, LogLikelihood] = {}
        for (n, _, _), value in zip(pairs, values, strict=True):
            if n not in best or value.mean > best[n].mean:
                best[n] = value
        return [best[n] for n in range(len(prompts))]

    def _references(self, examples: Sequence[Example]) -> list[list[str]]:
        found = [list(self.references(example)) for example in examples]
        if any(not references for references in found):
            raise ValueError("an example has no reference to score (no answers, no target)")
        return found

    def judge_positions(self, items: Sequence[Candidates], positions: Sequence[Sequence[int]],
                        generate: bool | None = None,
                        likelihood: bool | None = None) -> list[Judgment]:
        """`judge` with passages given as positions into each item's candidates."""
        return self.judge([c.example for c in items],
                          [[c.hits[p].passage for p in chosen]
                           for c, chosen in zip(items, positions, strict=True)],
                          generate=generate, likelihood=likelihood)

    def metric_of(self, judgment: Judgment) -> float:
        """The task metric (0-100) of a judgment that generated."""
        return judgment.scores[self.metric]

    def utility(self, judgment: Judgment) -> float:
        """The number a search, a reward or a threshold maximises.

        metric: 0-100; likelihood: the best reference's mean log-probability (<= 0);
        metric+likelihood: the metric plus TIE_BREAK x that mean, so the likelihood only
        decides between equal metrics.
        """
        if self.utility_name == "metric":
            return judgment.scores[self.metric]
        assert judgment.likelihood is not None, "this judgment was not scored"
        if self.utility_name == "likelihood":
            return judgment.likelihood.mean
        return judgment.scores[self.metric] + TIE_BREAK * judgment.likelihood.mean

    def utilities(self, items: Sequence[Candidates],
                  positions: Sequence[Sequence[int]]) -> list[float]:
        """`utility` of each (item, positions)."""
        return [self.utility(j) for j in self.judge_positions(items, positions)]

    def metrics(self, items: Sequence[Candidates],
                positions: Sequence[Sequence[int]]) -> list[float]:
        """The task metric of each (item, positions), whatever the utility."""
        return [self.metric_of(j) for j in self.judge_positions(items, positions,
                                                                generate=True,
                                                                likelihood=False)]

    @property
    def length_unit(self) -> str:
        """What `prompt_tokens` counts: "tokens" when the LLM's tokenizer is at hand without
        a fetch, else "words" (whitespace-separated); fixed at the first count."""
        if self._count_tokens is None:
            backend = getattr(self.llm, "llm", self.llm)  # a CachedLLM's backend
            counter = getattr(backend, "token_counter", None)
            counted = counter() if counter else None
            self._count_tokens = counted or (lambda text: len(text.split()))
            self._unit = "tokens" if counted else "words"
        return self._unit

    def prompt_tokens(self, prompt: str) -> int:
        """A prompt's length in `length_unit`."""
        _ = self.length_unit
        return self._count_tokens(prompt)
