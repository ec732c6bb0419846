"""The LLM protocol: a batch of user prompts in, a batch of texts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationSettings:
    """How the frozen LLM decodes: greedy by default, short, optionally cut at the first newline."""

    max_new_tokens: int = 16
    temperature: float = 0.0
    stop_at_newline: bool = True

    def key(self) -> str:
        """Stable text form, part of the response-cache key."""
        return (f"max_new_tokens={self.max_new_tokens};temperature={self.temperature};"
                f"stop_at_newline={self.stop_at_newline}")


class LLMError(RuntimeError):
    """The LLM backend failed (endpoint dead, bad response) after its retries."""


class LLM(Protocol):
    """A frozen LLM. `identity` names model + backend + numerics for the response cache."""

    identity: str

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """One completion per prompt (each prompt is a single user chat message)."""
        ...


def finish_output(text: str, settings: GenerationSettings) -> str:
    """Strip white space and, for short-answer settings, keep only the first line."""
    text = text.strip()
    if settings.stop_at_newline:
        text = text.split("\n", 1)[0].strip()
    return text
