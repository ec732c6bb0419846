"""The LLM protocol: a batch of user prompts in, a batch of texts out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


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


class PartialBatchError(LLMError):
    """A batch failed after some of its requests were answered: `done` maps a prompt's
    position in the batch to its answer, which the cache keeps (never asked again)."""

    def __init__(self, message: str, done: dict[int, Any]) -> None:
        super().__init__(message)
        self.done = done


@dataclass(frozen=True)
class LogLikelihood:
    """Teacher-forced log-likelihood of a reference reply: the sum of its tokens' natural
    log-probabilities (the end-of-turn token included) and how many tokens there were."""

    total: float
    tokens: int

    @property
    def mean(self) -> float:
        """Per-token mean log-probability (comparable across reference lengths)."""
        return self.total / max(self.tokens, 1)


@runtime_checkable
class LLM(Protocol):
    """A frozen LLM. `identity` names model + backend + numerics for the response cache.

    Backends that can also score implement `score(prompts, references)`: the
    log-likelihood of each reference as the assistant's whole reply to the prompt.
    """

    identity: str

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """One completion per prompt (each prompt is a single user chat message)."""
        ...


class ScoringLLM(LLM, Protocol):
    """An LLM that also gives teacher-forced log-likelihoods."""

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[LogLikelihood]:
        """Log-likelihood of each reference as the whole assistant reply to its prompt."""
        ...


def chat_continuation(render: Callable[..., str], prompt: str, reference: str,
                      end_of_turn: str | None) -> tuple[str, str]:
    """(context, continuation) of a chat exchange: the rendered user turn up to the
    assistant's opening, and the reference reply up to and including its end-of-turn token.

    `render(messages, add_generation_prompt=...)` renders a chat template to text.
    """
    user = [{"role": "user", "content": prompt}]
    context = render(user, add_generation_prompt=True)
    full = render(user + [{"role": "assistant", "content": reference}],
                  add_generation_prompt=False)
    if not full.startswith(context):
        raise LLMError("the chat template renders the assistant turn differently from its "
                       "generation prompt; cannot score the reply on its own")
    continuation = full[len(context):]
    if end_of_turn and end_of_turn in continuation:
        continuation = continuation[:continuation.index(end_of_turn) + len(end_of_turn)]
    return context, continuation


def finish_output(text: str, settings: GenerationSettings) -> str:
    """Strip white space and, for short-answer settings, keep only the first line."""
    text = text.strip()
    if settings.stop_at_newline:
        text = text.split("\n", 1)[0].strip()
    return text
