"""llama.cpp backend (llama-cpp-python): runs the bundled GGUF directly, quantized.

Prompts are processed one at a time, ordered so that consecutive prompts share the
longest prefixes: llama.cpp keeps the key/value cache of the previous prompt and only
evaluates the tokens after the common prefix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from ragbridge.llms.base import GenerationSettings, finish_output


class LlamaCppLLM:
    """Chat generation with a GGUF model through llama.cpp."""

    def __init__(self, gguf_path: str | Path | None = None, n_ctx: int = 4096,
                 threads: int | None = None, n_batch: int = 512, name: str | None = None,
                 gpu_layers: int = 0, flash_attn: bool = False) -> None:
        from llama_cpp import Llama

        from ragbridge.assets import smollm2_gguf

        path = Path(gguf_path) if gguf_path else smollm2_gguf()
        self.model = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_batch,
                           n_threads=threads or os.cpu_count() or 1, n_gpu_layers=gpu_layers,
                           flash_attn=flash_attn, seed=0, verbose=False)
        model_name = name or ("SmolLM2-135M-Instruct-Q4_1" if gguf_path is None else path.stem)
        self.identity = f"llama.cpp:{model_name}"
        self.seconds = 0.0

    def generate(self, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
        """Greedy (or sampled) chat completions; prefix-sharing order, results in input order."""
        started = time.perf_counter()
        order = sorted(range(len(prompts)), key=lambda i: prompts[i])
        outputs: list[str] = [""] * len(prompts)
        for index in order:
            response = self.model.create_chat_completion(
                messages=[{"role": "user", "content": prompts[index]}],
                max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                top_k=1 if settings.temperature == 0 else 40,
                stop=["\n"] if settings.stop_at_newline else None)
            outputs[index] = finish_output(response["choices"][0]["message"]["content"] or "",
                                           settings)
        self.seconds += time.perf_counter() - started
        return outputs
