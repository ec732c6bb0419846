"""A deterministic stand-in task and LLM where the best passage sequence is known."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragbridge.llms import GenerationSettings, LLMError
from ragbridge.llms.base import LogLikelihood
from ragbridge.records import Candidates, Example, Hit, Passage


class EchoLLM:
    """Returns each prompt unchanged; optionally slow, or failing from a given call on."""

    identity = "test:echo"

    def __init__(self, delay: float = 0.0, fail_from_call: int | None = None) -> None:
        self.delay, self.fail_from_call, self.calls = delay, fail_from_call, 0

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        self.calls += 1
        if self.fail_from_call is not None and self.calls >= self.fail_from_call:
            raise LLMError("endpoint http://127.0.0.1:9/v1 failed: connection refused")
        time.sleep(self.delay)
        return list(prompts)


@dataclass
class SequenceRewardTask:
    """The 'prompt' is the passage ids joined by '|'; the score is looked up per example."""

    rewards: dict[str, dict[str, float]]
    name: str = "fake"
    metrics: tuple[str, ...] = ("reward",)
    primary_metric: str = "reward"
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def build_prompt(self, example: Example, passages: Sequence[Passage]) -> str:
        return example.id + ":" + "|".join(p.id for p in passages)

    def score(self, output: str, example: Example) -> dict[str, float]:
        sequence = output.split(":", 1)[1]
        return {"reward": self.rewards[example.id].get(sequence, 0.0)}

    def references(self, example: Example) -> list[str]:
        return ["the reference"]


def make_candidates(count: int, k: int = 3) -> list[Candidates]:
    """`count` queries with candidates a, b, c ... in retriever order."""
    items = []
    for number in range(count):
        passages = [Passage(chr(ord("a") + i), f"text {i}") for i in range(k)]
        example = Example(f"q{number}", f"query {number}", answers=("x",))
        items.append(Candidates(example, tuple(Hit(p, 1.0, r + 1) for r, p in
                                               enumerate(passages)), "train", "fake"))
    return items


def varied_rewards(count: int) -> dict[str, dict[str, float]]:
    """Per query a different known optimum: sequences b|a, a|a, empty, c."""
    patterns = [{"": 0, "b": 50, "b|a": 80, "b|a|c": 70, "a": 10, "a|b|c": 20},
                {"": 0, "a": 40, "a|a": 60, "b": 30},
                {"": 30, "a": 20, "b": 30, "c": 10},
                {"": 0, "c": 5, "c|c": 5}]
    return {f"q{n}": patterns[n % len(patterns)] for n in range(count)}


class TableScorer(EchoLLM):
    """Echoes prompts, and scores a reference by a table of (prompt -> mean log-prob)."""

    identity = "test:table-scorer"

    def __init__(self, table: dict[str, dict[str, float]], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.table, self.scored = table, 0

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[LogLikelihood]:
        self.scored += len(prompts)
        values = []
        for prompt in prompts:
            example, sequence = prompt.split(":", 1)
            values.append(LogLikelihood(2 * self.table[example].get(sequence, -9.0), 2))
        return values
