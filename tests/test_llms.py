"""LLM backends: the real bundled model, the cache, and the HTTP backend against live servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from loopback import free_port, running

from ragbridge.llms import CachedLLM, GenerationSettings, LLMError
from ragbridge.llms.openai_http import OpenAIChatLLM
from ragbridge.llms.server import create_app

SETTINGS = GenerationSettings(max_new_tokens=8)
PROMPTS = ["What is the capital of France? Answer in one word.",
           "What colour is the sky on a clear day? Answer in one word.",
           "What is 2 + 2? Answer with a number."]


class CountingLLM:
    """Delegates to a real backend and counts the prompts it receives."""

    def __init__(self, inner) -> None:
        self.inner, self.identity, self.prompts = inner, inner.identity, 0

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        self.prompts += len(prompts)
        return self.inner.generate(prompts, settings)


def test_bundled_model_answers(smollm2) -> None:
    outputs = smollm2.generate(PROMPTS, SETTINGS)
    assert "paris" in outputs[0].lower()
    assert all("\n" not in output for output in outputs)


def test_cache_second_run_makes_no_calls(smollm2, tmp_path: Path) -> None:
    counter = CountingLLM(smollm2)
    cached = CachedLLM(counter, tmp_path / "cache.sqlite")
    first = cached.generate(PROMPTS + PROMPTS[:1], SETTINGS)
    assert counter.prompts == 3 and cached.stats.calls == 3 and cached.stats.hits == 1
    assert cached.generate(PROMPTS, SETTINGS) == first[:3]
    assert counter.prompts == 3
    cached.close()
    reopened = CachedLLM(counter, tmp_path / "cache.sqlite")  # as a second process would
    assert reopened.generate(PROMPTS, SETTINGS) == first[:3]
    assert counter.prompts == 3 and reopened.stats.calls == 0
    reopened.generate(PROMPTS[:1], GenerationSettings(max_new_tokens=4))  # other settings
    assert counter.prompts == 4


@pytest.fixture()
def live_llm_server(smollm2) -> Iterator[str]:
    """ragbridge's own chat-completions server over the real model, on 127.0.0.1."""
    with running(create_app(smollm2, "smollm2")) as url:
        yield f"{url}/v1"


def test_http_backend_matches_direct_backend(smollm2, live_llm_server: str) -> None:
    remote = OpenAIChatLLM("smollm2", base_url=live_llm_server, concurrency=1)
    assert remote.generate(PROMPTS, SETTINGS) == smollm2.generate(PROMPTS, SETTINGS)


class FlakyHandler(BaseHTTPRequestHandler):
    """Chat completions that fail with 503 for the first `failures` requests, each answered
    after `delay` seconds (`serial`: one request at a time, as a server computing each on
    the same cores)."""

    failures = 2
    seen = 0
    delay = 0.0
    serial: threading.Lock | None = None

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.serial is not None:
            with self.serial:
                time.sleep(self.delay)
        else:
            time.sleep(self.delay)
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.send_response(503)
            self.end_headers()
            return
        text = "echo: " + body["messages"][-1]["content"][:12]
        payload = json.dumps({"id": "x", "object": "chat.completion", "created": 0,
                              "model": body["model"],
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": text}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def echo_server(**settings: object) -> Iterator[tuple[str, type[FlakyHandler]]]:
    """A threaded echo endpoint on 127.0.0.1 with the handler's `settings`."""
    handler = type("Echo", (FlakyHandler,), {"seen": 0, **settings})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.request_queue_size = 64
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()


@pytest.fixture()
def flaky_server() -> Iterator[tuple[str, type[FlakyHandler]]]:
    with echo_server(failures=2) as served:
        yield served


def test_concurrency_grows_against_a_waiting_server_and_not_a_computing_one() -> None:
    """Found from answer times: a server that mostly waits (200 ms a request, answered in
    parallel) gets many requests in flight, one that computes them one at a time gets one;
    replies stay in prompt order either way. The wait is long against the cost of a request
    on a loaded 2-core machine (about 30 ms seen in CI), so the bound below is the server's,
    not the client's speed."""
    prompts = [f"prompt number {i:03d}" for i in range(80)]
    expected = [f"echo: {p[:12]}" for p in prompts]
    with echo_server(failures=0, delay=0.2) as (url, _):
        waiting = OpenAIChatLLM("m", base_url=url, timeout=10)
        started = time.perf_counter()
        assert waiting.generate(prompts, SETTINGS) == expected
        elapsed = time.perf_counter() - started
    assert waiting.in_flight.settled and waiting.concurrency >= 8
    assert elapsed < 80 * 0.2 / 3  # at least three times as fast as one request at a time
    with echo_server(failures=0, delay=0.05, serial=threading.Lock()) as (url, _):
        computing = OpenAIChatLLM("m", base_url=url, timeout=10)
        assert computing.generate(prompts[:20], SETTINGS) == expected[:20]
    assert computing.in_flight.settled and computing.concurrency <= 2
    with echo_server(failures=0) as (url, handler):
        fixed = OpenAIChatLLM("m", base_url=url, timeout=10, concurrency=3)
        assert fixed.generate(prompts[:7], SETTINGS) == expected[:7]
    assert fixed.concurrency == 3 and handler.seen == 7


def test_http_backend_retries_until_server_recovers(flaky_server) -> None:
    url, handler = flaky_server
    llm = OpenAIChatLLM("m", base_url=url, max_retries=3, concurrency=1, timeout=5)
    assert llm.generate(["hello there, world"], SETTINGS) == ["echo: hello there,"]
    assert handler.seen == 3


def test_http_backend_gives_up_with_clear_error(flaky_server) -> None:
    url, _ = flaky_server
    llm = OpenAIChatLLM("m", base_url=url, max_retries=0, concurrency=1, timeout=5)
    with pytest.raises(LLMError, match="127.0.0.1"):
        llm.generate(["hello"], SETTINGS)


def test_dead_endpoint_raises_llm_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    cached = CachedLLM(OpenAIChatLLM("m", base_url=url, max_retries=1, timeout=2),
                       tmp_path / "c.sqlite")
    with pytest.raises(LLMError, match="failed"):
        cached.generate(["hello"], SETTINGS)
    assert cached.stats.calls == 0


def test_http_backend_scores_like_the_direct_backend(smollm2, live_llm_server: str) -> None:
    """Prompt log-probabilities through a real server (echo + logprobs on /v1/completions)
    give the direct backend's likelihoods."""
    from ragbridge.llms.hf import smollm2_folder

    remote = OpenAIChatLLM("smollm2", base_url=live_llm_server, concurrency=2,
                           tokenizer=str(smollm2_folder()))
    references = ["Paris", "Blue", "4"]
    direct = smollm2.score(PROMPTS, references)
    served = remote.score(PROMPTS, references)
    assert [v.tokens for v in served] == [v.tokens for v in direct]
    for a, b in zip(served, direct, strict=True):
        assert a.total == pytest.approx(b.total, abs=1e-3)


def test_http_scoring_without_a_chat_template_or_logprobs_is_a_clear_error(
        flaky_server) -> None:
    url, _ = flaky_server
    with pytest.raises(LLMError, match="tokenizer folder"):
        OpenAIChatLLM("m", base_url=url, max_retries=0).score(["q"], ["a"])


def test_llamacpp_scores_close_to_the_reference(smollm2) -> None:
    """llama.cpp's GGUF against fp32 transformers on the same model: the same tokens, means
    within 0.25 nats/token (measured up to 0.19 here), and the same verdict on a right and a
    wrong reply where the reference backend sees them more than 0.5 nats apart (a bound
    that a reply scored against another prompt's, or a wrong sign, would break)."""
    from ragbridge.llms import build_llm

    right, wrong = ["Paris", "Blue", "4"], ["London", "Green", "5"]
    llama = build_llm("llamacpp")
    quantized = llama.score(PROMPTS * 2, right + wrong)
    reference = smollm2.score(PROMPTS * 2, right + wrong)
    assert [v.tokens for v in quantized] == [v.tokens for v in reference]
    assert all(abs(a.mean - b.mean) < 0.25 for a, b in zip(quantized, reference, strict=True))
    apart = [i for i in range(3) if abs(reference[i].mean - reference[i + 3].mean) > 0.5]
    assert apart, "no pair far enough apart to compare verdicts"
    for i in apart:
        assert (quantized[i].mean > quantized[i + 3].mean) == (
            reference[i].mean > reference[i + 3].mean), (right[i], wrong[i])


def test_llamacpp_scores_a_prompt_longer_than_2048_tokens() -> None:
    """RL's sequences can repeat passages: the study's RL stopped at a 2,299-token prompt
    when the scorer's context was fixed at 2,048; it is now the model's context (4,096)."""
    from ragbridge.llms.llamacpp import LlamaCppLLM

    llama = LlamaCppLLM()
    prompt = " ".join(["The Pacific Ocean is the largest ocean on Earth."] * 260)
    assert len(llama.model.tokenize(prompt.encode())) > 2100
    value = llama.score([prompt + " Which ocean is the largest?"], ["Pacific"])[0]
    assert value.tokens >= 1 and value.total < 0


def test_llamacpp_scores_as_a_full_logits_pass_does() -> None:
    """The scorer asks llama.cpp for logits only where they predict the reply (and reuses
    shared prefixes); an independent pass with every position's logits agrees."""
    import numpy as np
    from llama_cpp import Llama

    from ragbridge.assets import smollm2_gguf
    from ragbridge.llms import build_llm
    from ragbridge.llms.base import chat_continuation

    llm = build_llm("llamacpp")
    prompts = [PROMPTS[0], PROMPTS[0], PROMPTS[1], PROMPTS[0] + " Answer briefly."]
    references = ["Paris", "The capital is Paris.", "Blue", "Paris"]
    scored = llm.score(prompts, references)
    full = Llama(model_path=str(smollm2_gguf()), n_ctx=2048, logits_all=True, verbose=False)
    for prompt, reference, value in zip(prompts, references, scored, strict=True):
        context, reply = chat_continuation(llm._render, prompt, reference,
                                           llm._token_text("eos"))
        context_ids = full.tokenize(context.encode(), add_bos=False, special=True)
        reply_ids = full.tokenize(reply.encode(), add_bos=False, special=True)
        full.reset()
        full.eval(context_ids + reply_ids)
        logits = np.asarray(full.scores[len(context_ids) - 1:len(context_ids) + len(reply_ids)
                                        - 1], dtype=np.float64)
        logprobs = logits - logits.max(1, keepdims=True)
        logprobs -= np.log(np.exp(logprobs).sum(1, keepdims=True))
        expected = sum(logprobs[i, t] for i, t in enumerate(reply_ids))
        assert value.tokens == len(reply_ids)
        assert value.total == pytest.approx(expected, abs=1e-3)
