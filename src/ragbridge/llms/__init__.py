"""Frozen LLMs behind one protocol, every backend behind the persistent response cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragbridge.llms.base import LLM, GenerationSettings, LLMError
from ragbridge.llms.cache import CachedLLM

__all__ = ["LLM", "CachedLLM", "GenerationSettings", "LLMError", "LLMOptions", "build_llm",
           "load_llm"]

DEFAULT_LLM = "smollm2"


@dataclass(frozen=True)
class LLMOptions:
    """Which frozen LLM, and how it is reached (the options every LLM-using command takes)."""

    llm: str = field(default=DEFAULT_LLM, metadata={
        "help": "LLM: smollm2 (bf16 where native) | smollm2-fp32 | smollm2-bf16 | "
                "llamacpp[:GGUF|qwen2.5-coder-0.5b|qwen2.5-coder-1.5b] | hf:PATH | "
                "openai:MODEL"})
    base_url: str | None = field(default=None, metadata={
        "help": "Base URL of an OpenAI-compatible endpoint (or $RAGBRIDGE_LLM_BASE_URL)"})
    llm_batch_size: int = field(default=8, metadata={
        "help": "Prompts per LLM batch (a local model's forward pass)"})
    llm_device: str = field(default="cpu", metadata={"help": "LLM device: cpu | cuda"})
    concurrency: int | None = field(default=None, metadata={
        "help": "Requests in flight to an endpoint (none: found from the server's answer "
                "times, up to 32)"})

    def load(self) -> CachedLLM:
        """The LLM behind the shared response cache."""
        extra = {"concurrency": self.concurrency} if self.concurrency is not None else {}
        return load_llm(self.llm, batch_size=self.llm_batch_size, base_url=self.base_url,
                        device=self.llm_device, **extra)


def build_llm(spec: str = DEFAULT_LLM, device: str = "cpu", batch_size: int = 8,
              dtype: str = "auto", base_url: str | None = None,
              flash_attn: bool = False, tokenizer: str | None = None,
              concurrency: int | None = None) -> LLM:
    """An uncached backend from a spec.

    - `smollm2`: the bundled SmolLM2-135M-Instruct (transformers; `dtype="auto"` is bf16
      where the CPU has it natively, else fp32); `smollm2-fp32` / `smollm2-bf16` fix the
      precision (fp32 replies are identical at every batch size, likelihoods to ~1e-6; bf16
      output can change with the batch it is computed in)
    - `hf:PATH`: any transformers causal-LM folder
    - `openai:MODEL`: an OpenAI-compatible endpoint (base URL from `base_url` or env;
      `tokenizer`: the model's tokenizer folder, whose chat template scoring needs;
      `concurrency`: requests in flight, None to find it from the server's answer times)
    - `llamacpp` / `llamacpp:PATH.gguf`: llama.cpp on the bundled (or another) GGUF;
      `llamacpp:qwen2.5-coder-0.5b` fetches that named model on first use
    """
    if spec == "llamacpp" or spec.startswith("llamacpp:"):
        from ragbridge.llms.llamacpp import LlamaCppLLM

        target = spec.split(":", 1)[1] if ":" in spec else None
        if target and not target.endswith(".gguf"):  # a named model: fetched on first miss
            from ragbridge.assets import SPLIT_GGUF_MODELS, fetched_split_gguf, split_gguf
            from ragbridge.llms.lazy import LazyLLM
            from ragbridge.llms.llamacpp import gguf_token_counter

            if target not in SPLIT_GGUF_MODELS:
                raise ValueError(f"unknown model {target!r} in {spec!r}: give a .gguf path or "
                                 f"one of {', '.join(sorted(SPLIT_GGUF_MODELS))}")

            def vocabulary() -> Callable[[str], int] | None:
                fetched = fetched_split_gguf(target)
                return gguf_token_counter(fetched) if fetched else None

            return LazyLLM(f"llama.cpp:{target}", lambda: LlamaCppLLM(
                split_gguf(target), name=target, flash_attn=flash_attn), vocabulary)
        return LlamaCppLLM(target, flash_attn=flash_attn)
    if spec in ("smollm2", "hf:smollm2", "smollm2-fp32", "smollm2-bf16"):
        from ragbridge.llms.hf import TransformersLLM

        fixed = {"smollm2-fp32": "float32", "smollm2-bf16": "bfloat16"}.get(spec, dtype)
        return TransformersLLM(None, device=device, dtype=fixed, batch_size=batch_size)
    if spec.startswith("hf:"):
        from ragbridge.fingerprint import local_model
        from ragbridge.llms.hf import TransformersLLM

        return TransformersLLM(local_model(spec[3:], "LLM (hf:PATH)"), device=device,
                               dtype=dtype, batch_size=batch_size)
    if spec.startswith("openai:"):
        from ragbridge.llms.openai_http import OpenAIChatLLM

        return OpenAIChatLLM(spec[len("openai:"):], base_url=base_url, concurrency=concurrency,
                             tokenizer=tokenizer)
    raise ValueError(f"unknown LLM {spec!r}: use 'smollm2[-fp32|-bf16]', 'hf:PATH', "
                     "'llamacpp[:GGUF]'"
                     " or 'openai:MODEL'")


def load_llm(spec: str = DEFAULT_LLM, cache_path: Path | None = None,
             **options: object) -> CachedLLM:
    """A backend wrapped in the on-disk response cache (default: the shared cache file)."""
    from ragbridge.paths import llm_cache_path

    path = cache_path or llm_cache_path()
    cached = CachedLLM(build_llm(spec, **options), path)
    cached.recipe = {"spec": spec, "cache_path": path, **options}  # to rebuild it elsewhere
    return cached
