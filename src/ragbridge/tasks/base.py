"""The Task protocol and the registry of tasks by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ragbridge.llms.base import GenerationSettings
from ragbridge.records import Example, Passage


@runtime_checkable
class Task(Protocol):
    """Builds the LLM prompt from an example and an ordered passage list; scores outputs."""

    name: str
    metrics: tuple[str, ...]
    primary_metric: str
    generation: GenerationSettings

    def build_prompt(self, example: Example, passages: Sequence[Passage]) -> str:
        """The user message for the LLM; passages appear in the given order, repeats allowed."""
        ...

    def score(self, output: str, example: Example) -> dict[str, float]:
        """Every metric of this task (0-100) for one LLM output."""
        ...

    def references(self, example: Example) -> list[str]:
        """The replies whose likelihood under the frozen LLM measures a prompt's utility
        (the gold answers, or the target text)."""
        ...


def truncate_words(text: str, max_words: int) -> str:
    """Keep the first `max_words` words of `text` (huge passages cannot flood a prompt)."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    return " ".join(words[:max_words]) + " ..."
