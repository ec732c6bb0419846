"""OpenAI-compatible chat-completions backend (vLLM, Ollama, llama.cpp server, OpenAI)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ragbridge.llms.base import GenerationSettings, LLMError, finish_output

BASE_URL_ENV = "RAGBRIDGE_LLM_BASE_URL"
MODEL_ENV = "RAGBRIDGE_LLM_MODEL"
API_KEY_ENV = "RAGBRIDGE_LLM_API_KEY"


class OpenAIChatLLM:
    """Sends each prompt as one chat completion; a batch goes out as concurrent requests.

    Timeouts and retries with exponential backoff are the `openai` client's own
    (connection errors, 408, 409, 429 and 5xx are retried).
    """

    def __init__(self, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, timeout: float = 60.0, max_retries: int = 4,
                 concurrency: int = 8) -> None:
        from openai import OpenAI

        self.model = model or os.environ.get(MODEL_ENV, "")
        if not self.model:
            raise ValueError(f"name the served model (--llm openai:MODEL or ${MODEL_ENV})")
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or "https://api.openai.com/v1"
        key = api_key or os.environ.get(API_KEY_ENV) or os.environ.get("OPENAI_API_KEY") or "none"
        self.client = OpenAI(base_url=self.base_url, api_key=key, timeout=timeout,
                             max_retries=max_retries)
        self.concurrency = concurrency
        self.identity = f"openai:{self.model}@{self.base_url}"
        self.seconds = 0.0

    def _complete(self, prompt: str, settings: GenerationSettings) -> str:
        from openai import OpenAIError

        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": prompt}],
                max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                stop=["\n"] if settings.stop_at_newline else None)
        except OpenAIError as error:
            raise LLMError(f"LLM endpoint {self.base_url} failed: {error}") from error
        if not response.choices:
            raise LLMError(f"LLM endpoint {self.base_url} returned no choices")
        return finish_output(response.choices[0].message.content or "", settings)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """Concurrent requests, results in prompt order; any failure raises LLMError."""
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            outputs = list(pool.map(lambda p: self._complete(p, settings), prompts))
        self.seconds += time.perf_counter() - started
        return outputs
