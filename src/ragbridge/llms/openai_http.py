"""OpenAI-compatible chat-completions backend (vLLM, Ollama, llama.cpp server, OpenAI)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from ragbridge.llms.base import (
    GenerationSettings,
    LLMError,
    LogLikelihood,
    PartialBatchError,
    chat_continuation,
    finish_output,
)

BASE_URL_ENV = "RAGBRIDGE_LLM_BASE_URL"
MODEL_ENV = "RAGBRIDGE_LLM_MODEL"
API_KEY_ENV = "RAGBRIDGE_LLM_API_KEY"
TOKENIZER_ENV = "RAGBRIDGE_LLM_TOKENIZER"
MAX_AUTO_CONCURRENCY = 32
GAIN_TO_GROW = 1.3  # a doubling of requests in flight must raise throughput this much

Item = TypeVar("Item")
Result = TypeVar("Result")


class InFlight:
    """How many requests go to the endpoint at once: a fixed number, or (None) found from
    the server's answer times.

    Found: requests go out in waves of 1, 2, 4 ... (real work, nothing is asked twice); while
    a wave of twice the requests finishes at least GAIN_TO_GROW times more requests a second,
    the level doubles (up to MAX_AUTO_CONCURRENCY), and it settles on the last level that
    paid. A server whose answer time is mostly waiting (a remote or a batching server) climbs
    to many in flight; one that computes each request on the same few cores stays at one or
    two.
    """

    def __init__(self, fixed: int | None = None) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError(f"concurrency must be at least 1, not {fixed}")
        self.level = fixed or 1
        self.settled = fixed is not None
        self.rates: dict[int, float] = {}  # requests a second seen at each probed level

    def map(self, work: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """`work` of every item, in order, `level` at a time (probing while not settled)."""
        results: list[Result] = []
        start = 0
        try:
            while start < len(items) and not self.settled:
                wave = items[start:start + self.level]
                started = time.perf_counter()
                results += _parallel(work, wave, len(wave))
                if len(wave) == self.level:  # a short last wave says nothing about the level
                    self._observe(len(wave) / max(time.perf_counter() - started, 1e-9))
                start += len(wave)
            return results + _parallel(work, items[start:], self.level)
        except PartialBatchError as error:  # positions in this call, not in the last wave
            done = dict(enumerate(results)) | {start + i: r for i, r in error.done.items()}
            raise PartialBatchError(str(error), done) from error.__cause__

    def _observe(self, rate: float) -> None:
        previous = self.rates.get(self.level // 2)
        self.rates[self.level] = rate
        if previous is not None and rate < GAIN_TO_GROW * previous:
            self.level //= 2
            self.settled = True
        elif self.level >= MAX_AUTO_CONCURRENCY:
            self.settled = True
        else:
            self.level *= 2


def _parallel(work: Callable[[Item], Result], items: Sequence[Item],
              workers: int) -> list[Result]:
    """`work` of every item in order, `workers` at a time; when one fails, the requests in
    flight finish, none is started, and the answers so far travel in a PartialBatchError."""
    done: dict[int, Result] = {}
    if workers <= 1 or len(items) <= 1:
        for position, item in enumerate(items):
            try:
                done[position] = work(item)
            except LLMError as error:
                raise PartialBatchError(str(error), done) from error
        return [done[position] for position in range(len(items))]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception()), None)
        if failed is None:
            return [f.result() for f in futures]
        for future in futures:
            future.cancel()  # those not started yet
        wait(futures)
    done = {i: f.result() for i, f in enumerate(futures)
            if not f.cancelled() and f.exception() is None}
    error = failed.exception()
    if not isinstance(error, LLMError):
        raise error
    raise PartialBatchError(str(error), done) from error


class OpenAIChatLLM:
    """Sends each prompt as one chat completion; a batch goes out as concurrent requests
    (`concurrency` in flight; None: found from the server's answer times, see `InFlight`).

    Timeouts and retries with exponential backoff are the `openai` client's own
    (connection errors, 408, 409, 429 and 5xx are retried), for generation and scoring alike.
    """

    def __init__(self, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, timeout: float = 60.0, max_retries: int = 4,
                 concurrency: int | None = None, tokenizer: str | None = None) -> None:
        from openai import OpenAI

        self.model = model or os.environ.get(MODEL_ENV, "")
        if not self.model:
            raise ValueError(f"name the served model (--llm openai:MODEL or ${MODEL_ENV})")
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or "https://api.openai.com/v1"
        key = api_key or os.environ.get(API_KEY_ENV) or os.environ.get("OPENAI_API_KEY") or "none"
        self.client = OpenAI(base_url=self.base_url, api_key=key, timeout=timeout,
                             max_retries=max_retries)
        self.in_flight = InFlight(concurrency)
        self.identity = f"openai:{self.model}@{self.base_url}"
        self.seconds = 0.0
        self.tokenizer_path = tokenizer or os.environ.get(TOKENIZER_ENV)
        self._chat_tokenizer: Any = None

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
        outputs = self.in_flight.map(lambda p: self._complete(p, settings), prompts)
        self.seconds += time.perf_counter() - started
        return outputs

    def _tokenizer(self) -> Any:
        """The model's tokenizer from the folder given (loaded once), else None."""
        if self._chat_tokenizer is None and self.tokenizer_path:
            from transformers import AutoTokenizer

            self._chat_tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
        return self._chat_tokenizer

    def token_counter(self) -> Callable[[str], int] | None:
        """Token counts from the model's tokenizer folder when one is given, else None (the
        endpoint is never asked: lengths are then counted in words)."""
        tokenizer = self._tokenizer()
        if tokenizer is None:
            return None
        return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])

    # ---- scoring ----------------------------------------------------------------------
    def _render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        if self._tokenizer() is None:
            raise LLMError(
                "scoring through an OpenAI-compatible endpoint sends the chat-formatted "
                "text to /v1/completions: name the model's tokenizer folder (its chat "
                f"template) with ${TOKENIZER_ENV} or tokenizer=PATH")
        return self._chat_tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def _score(self, prompt: str, reference: str) -> LogLikelihood:
        from openai import OpenAIError

        context, reply = chat_continuation(self._render, prompt, reference,
                                           self._chat_tokenizer.eos_token)
        try:
            response = self.client.completions.create(
                model=self.model, prompt=context + reply, max_tokens=1, temperature=0.0,
                echo=True, logprobs=0)
        except OpenAIError as error:
            raise LLMError(f"LLM endpoint {self.base_url} failed: {error}") from error
        logprobs = response.choices[0].logprobs if response.choices else None
        if logprobs is None or not logprobs.token_logprobs or not logprobs.text_offset:
            raise LLMError(f"LLM endpoint {self.base_url} returned no prompt log-probabilities: "
                           "scoring needs echo + logprobs on /v1/completions (vLLM, the "
                           "llama.cpp server, `ragbridge llm-server`)")
        end = len(context) + len(reply)
        picked = [value for offset, value in zip(logprobs.text_offset,
                                                 logprobs.token_logprobs, strict=False)
                  if len(context) <= offset < end]
        if not picked or any(value is None for value in picked):
            raise LLMError(f"LLM endpoint {self.base_url} gave no log-probabilities for the "
                           "reply's tokens")
        return LogLikelihood(round(sum(picked), 6), len(picked))

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[LogLikelihood]:
        """Log-likelihood of each reference as the whole reply, from the endpoint's prompt
        log-probabilities (concurrent requests, results in order)."""
        started = time.perf_counter()
        self._render([{"role": "user", "content": ""}], True)  # fail early without a template
        values = self.in_flight.map(lambda pair: self._score(*pair),
                                    list(zip(prompts, references, strict=True)))
        self.seconds += time.perf_counter() - started
        return values

    @property
    def concurrency(self) -> int:
        """Requests in flight now (still growing while `in_flight.settled` is False)."""
        return self.in_flight.level
