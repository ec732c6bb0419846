"""A backend built on its first cache miss: replaying cached judgments never fetches or
loads the model (the study LLM is a 1.1 GB download)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ragbridge.llms.base import LLM, GenerationSettings, LogLikelihood


class LazyLLM:
    """Stands for a backend whose identity is known without it; `build` runs once, on the
    first `generate` or `score`."""

    def __init__(self, identity: str, build: Callable[[], LLM],
                 vocabulary: Callable[[], Callable[[str], int] | None] | None = None) -> None:
        """`vocabulary`: token counts without the backend (e.g. from a model file already on
        disk), or None when they would need a fetch."""
        self.identity = identity
        self._build = build
        self._vocabulary = vocabulary
        self._backend: LLM | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the backend has been built."""
        return self._backend is not None

    def backend(self) -> LLM:
        """The backend, built (fetched, loaded) now if this is the first need of it."""
        with self._lock:
            if self._backend is None:
                backend = self._build()
                if backend.identity != self.identity:
                    raise RuntimeError(f"the backend built as {self.identity!r} calls itself "
                                       f"{backend.identity!r}")
                self._backend = backend
            return self._backend

    def token_counter(self) -> Callable[[str], int] | None:
        """The backend's token counts once it is built; before, the vocabulary's (when it
        needs no fetch), else None (lengths are then counted in words)."""
        if self._backend is not None:
            counter = getattr(self._backend, "token_counter", None)
            return counter() if counter else None
        return self._vocabulary() if self._vocabulary else None

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """The backend's replies (building it first)."""
        return self.backend().generate(prompts, settings)

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[LogLikelihood]:
        """The backend's reference log-likelihoods (building it first)."""
        return self.backend().score(prompts, references)  # type: ignore[attr-defined]
