"""llama.cpp backend (llama-cpp-python): runs the bundled GGUF directly, quantized.

Prompts are processed one at a time, each from an empty key/value cache: reusing the
previous prompt's cache for a shared prefix changed 3 to 6 replies in 54 on Qwen2.5-Coder-0.5B
(`benchmarks/llamacpp_determinism.py`), so a reply depended on which prompt came before it
and a cached judgment was not the one a rerun computes. Scoring keeps its prefix reuse: its
log-likelihoods were identical to the last bit in any order.

Where llama.cpp was built with AMX (an Intel Xeon with AMX, compiled natively), its AMX
weight repacking crashed the first decode with a segmentation fault on this project's
(virtualised) Xeon, as reported upstream (ggml-org/llama.cpp#20824); such builds load the
weights without extra buffer types (`extra_buffers=False`), which other CPUs keep for their
repacked kernels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ragbridge.fingerprint import content_name
from ragbridge.llms.base import GenerationSettings, LogLikelihood, chat_continuation, finish_output


def built_with_amx() -> bool:
    """Whether this llama.cpp build uses AMX kernels (its system info says AMX_INT8 = 1)."""
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


@contextmanager
def _extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Models constructed inside load with `use_extra_bufts` = `enabled`: llama-cpp-python's
    `Llama()` takes no such argument, but reads the library's default model parameters."""
    from llama_cpp import llama_cpp

    original = llama_cpp.llama_model_default_params

    def defaults() -> object:
        params = original()
        params.use_extra_bufts = enabled
        return params

    llama_cpp.llama_model_default_params = defaults
    try:
        yield
    finally:
        llama_cpp.llama_model_default_params = original


def _decode_reply_logits(scorer: Any, tokens: list[int], keep: int, reply_start: int) -> Any:
    """Evaluate `tokens` after the first `keep` (already in the key/value cache) and return
    the logits at positions `reply_start - 1 .. len(tokens) - 2`, those that predict each
    reply token, as a (reply tokens, vocabulary) float64 array."""
    from llama_cpp import llama_cpp

    scorer._ctx.kv_cache_seq_rm(-1, keep, -1)
    wanted = range(reply_start - 1, len(tokens) - 1)
    rows: list[Any] = []
    batch, vocabulary = scorer._batch.batch, scorer.n_vocab()
    for begin in range(keep, len(tokens), scorer.n_batch):
        chunk = tokens[begin:begin + scorer.n_batch]
        batch.n_tokens = len(chunk)
        for offset, token in enumerate(chunk):
            batch.token[offset], batch.pos[offset] = token, begin + offset
            batch.seq_id[offset][0], batch.n_seq_id[offset] = 0, 1
            batch.logits[offset] = begin + offset in wanted
        scorer._ctx.decode(scorer._batch)
        for offset in range(len(chunk)):
            if begin + offset in wanted:
                row = llama_cpp.llama_get_logits_ith(scorer._ctx.ctx, offset)
                rows.append(np.ctypeslib.as_array(row, shape=(vocabulary,)).astype(np.float64))
    scorer.input_ids[keep:len(tokens)] = tokens[keep:]
    scorer.n_tokens = len(tokens)
    return np.stack(rows)


def vocabulary_counter(model: Any) -> Callable[[str], int]:
    """Token counts from a llama.cpp model (a vocabulary-only load will do)."""
    return lambda text: len(model.tokenize(text.encode(), add_bos=False, special=False))


def gguf_token_counter(path: Path) -> Callable[[str], int]:
    """Token counts from a GGUF file's vocabulary alone (no weights are loaded)."""
    from llama_cpp import Llama

    return vocabulary_counter(Llama(model_path=str(path), vocab_only=True, verbose=False))


class LlamaCppLLM:
    """Chat generation with a GGUF model through llama.cpp."""

    def __init__(self, gguf_path: str | Path | None = None, n_ctx: int = 4096,
                 threads: int | None = None, n_batch: int = 512, name: str | None = None,
                 gpu_layers: int = 0, flash_attn: bool = False,
                 extra_buffers: bool | None = None) -> None:
        from llama_cpp import Llama

        from ragbridge.assets import smollm2_gguf

        path = Path(gguf_path) if gguf_path else smollm2_gguf()
        self.path, self.threads = path, threads or os.cpu_count() or 1
        # weight repacking into extra buffer types, except where the build's is AMX's
        self.extra_buffers = not built_with_amx() if extra_buffers is None else extra_buffers
        self._scorer: Any = None
        self.n_ctx = n_ctx  # the scorer's context too: RL's sequences may repeat passages
        with _extra_buffer_types(self.extra_buffers):
            self.model = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_batch,
                               n_threads=self.threads, n_gpu_layers=gpu_layers,
                               flash_attn=flash_attn, seed=0, verbose=False)
        # named and bundled files are checked against their SHA-256 when fetched; others
        # enter the identity by content
        model_name = name or ("SmolLM2-135M-Instruct-Q4_1" if gguf_path is None
                              else content_name(path, path.stem))
        self.identity = f"llama.cpp:{model_name}"
        self.seconds = 0.0

    def token_counter(self) -> Callable[[str], int]:
        """A text's length in this model's tokens."""
        return vocabulary_counter(self.model)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """Greedy (or sampled) chat completions, each from an empty cache, in input order."""
        started = time.perf_counter()
        outputs: list[str] = [""] * len(prompts)
        for index in range(len(prompts)):
            self.model.reset()  # no reuse of the previous prompt's cache: see the module doc
            response = self.model.create_chat_completion(
                messages=[{"role": "user", "content": prompts[index]}],
                max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                top_k=1 if settings.temperature == 0 else 40,
                stop=["\n"] if settings.stop_at_newline else None)
            outputs[index] = finish_output(response["choices"][0]["message"]["content"] or "",
                                           settings)
        self.seconds += time.perf_counter() - started
        return outputs

    # ---- scoring ----------------------------------------------------------------------
    def _render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{self.path} has no chat template to score replies with")
        formatter = Jinja2ChatFormatter(template, self._token_text("eos"),
                                        self._token_text("bos"),
                                        add_generation_prompt=add_generation_prompt)
        return formatter(messages=messages).prompt

    def _token_text(self, kind: str) -> str:
        token = int(self.model.metadata.get(f"tokenizer.ggml.{kind}_token_id", -1))
        return "" if token < 0 else self.model.detokenize([token], special=True).decode()

    def score(self, prompts: Sequence[str], references: Sequence[str]) -> list[LogLikelihood]:
        """Teacher-forced log-likelihood of each reference as the whole assistant reply.

        A second llama.cpp context does the scoring, asking for logits only at the positions
        that predict the reply (a vocabulary-wide output row for every prompt token cost more
        than the prompt itself: Qwen's vocabulary is 152k); pairs are ordered so that
        consecutive ones share their prefix, whose evaluation is reused.
        """
        from llama_cpp import Llama

        started = time.perf_counter()
        if self._scorer is None:
            with _extra_buffer_types(self.extra_buffers):
                self._scorer = Llama(model_path=str(self.path), n_ctx=self.n_ctx,
                                     n_batch=512,
                                     n_threads=self.threads, seed=0, verbose=False)
        scorer = self._scorer
        encoded = []
        for prompt, reference in zip(prompts, references, strict=True):
            context, reply = chat_continuation(self._render, prompt, reference,
                                               self._token_text("eos"))
            encoded.append((scorer.tokenize(context.encode(), add_bos=False, special=True),
                            scorer.tokenize(reply.encode(), add_bos=False, special=True)))
        order = sorted(range(len(encoded)), key=lambda i: encoded[i][0] + encoded[i][1])
        results: list[LogLikelihood] = [LogLikelihood(0.0, 0)] * len(encoded)
        previous: list[int] = []
        for index in order:
            context, reply = encoded[index]
            tokens = context + reply
            if len(tokens) > scorer.n_ctx():
                raise ValueError(f"prompt and reply take {len(tokens)} tokens, more than the "
                                 f"scoring context of {scorer.n_ctx()}")
            keep = 0  # the shared prefix, short of the last context token (it predicts reply[0])
            while (keep < min(len(previous), len(context) - 1)
                   and previous[keep] == tokens[keep]):
                keep += 1
            logits = _decode_reply_logits(scorer, tokens, keep, len(context))
            shifted = logits - logits.max(axis=1, keepdims=True)
            logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total = float(sum(logprobs[i, token] for i, token in enumerate(reply)))
            results[index] = LogLikelihood(round(total, 6), len(reply))
            previous = tokens
        self.seconds += time.perf_counter() - started
        return results
