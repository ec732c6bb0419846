"""New (untrained) bridges: the offline model families, or any HF model folder.

- `minilm-encdec`: an `EncoderDecoderModel` warm-started from the bundled all-MiniLM-L6-v2
  as both encoder and decoder (the decoder's cross-attention is new)
- `smollm2-causal`: the bundled SmolLM2-135M-Instruct as a decoder-only bridge
- `t5-random`: a small randomly initialised T5 (no pretraining: the control)
- `seq2seq:PATH` / `causal:PATH`: any `AutoModelForSeq2SeqLM` (T5, Flan-T5, BART) or
  `AutoModelForCausalLM` folder — a user with a downloaded Flan-T5 changes only this
- `tiny-seq2seq` / `tiny-causal`: tiny random models, for testing mechanics only
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragbridge.bridge.format import BridgeFormat, special_tokens
from ragbridge.bridge.model import Bridge

FAMILIES = ("minilm-encdec", "smollm2-causal", "t5-random")


def _with_markers(tokenizer: Any, k: int) -> Any:
    tokenizer.add_special_tokens({"additional_special_tokens": special_tokens(k)})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _minilm_tokenizer(k: int) -> Any:
    from transformers import AutoTokenizer

    from ragbridge.assets import minilm_dir

    return _with_markers(AutoTokenizer.from_pretrained(minilm_dir()), k)


def _seq2seq_ids(model: Any, tokenizer: Any, start: int) -> Any:
    """Point the start, end and pad tokens of a BERT-vocabulary seq2seq model."""
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = start
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    return model


def _minilm_encdec(k: int, tiny: bool) -> tuple[Any, Any]:
    from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel

    from ragbridge.assets import minilm_dir

    tokenizer = _minilm_tokenizer(k)
    if tiny:
        small = {"vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 1,
                 "num_attention_heads": 2, "intermediate_size": 64}
        config = EncoderDecoderConfig.from_encoder_decoder_configs(
            BertConfig(**small), BertConfig(**small, is_decoder=True, add_cross_attention=True))
        model = EncoderDecoderModel(config=config)
    else:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(str(minilm_dir()),
                                                                    str(minilm_dir()))
        model.encoder.resize_token_embeddings(len(tokenizer))
        model.decoder.resize_token_embeddings(len(tokenizer))
        model.config.decoder.vocab_size = model.config.encoder.vocab_size = len(tokenizer)
    return _seq2seq_ids(model, tokenizer, tokenizer.cls_token_id), tokenizer


def _t5_random(k: int, tiny: bool) -> tuple[Any, Any]:
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = _minilm_tokenizer(k)
    size = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_heads": 2, "d_kv": 16} if tiny \
        else {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_heads": 4, "d_kv": 64}
    model = T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), **size))
    return _seq2seq_ids(model, tokenizer, tokenizer.pad_token_id), tokenizer


def _causal(path: Path | None, k: int, tiny: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ragbridge.llms.hf import smollm2_folder

    folder = path or smollm2_folder()
    tokenizer = _with_markers(AutoTokenizer.from_pretrained(folder), k)
    if tiny:
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
            max_position_embeddings=2048, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id))
    else:
        model = AutoModelForCausalLM.from_pretrained(folder)
        model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer


def build_bridge(family: str, fmt: BridgeFormat | None = None, device: str = "cpu",
                 seed: int = 0) -> Bridge:
    """A new bridge of `family` (see the module docstring) ready for SL training."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.manual_seed(seed)
    fmt = fmt or BridgeFormat()
    tiny = family.startswith("tiny-")
    if family in ("minilm-encdec", "tiny-seq2seq"):
        model, tokenizer = _minilm_encdec(fmt.k, tiny)
        return Bridge(model, tokenizer, fmt, "seq2seq", family, device)
    if family == "t5-random":
        model, tokenizer = _t5_random(fmt.k, tiny=False)
        return Bridge(model, tokenizer, fmt, "seq2seq", family, device)
    if family in ("smollm2-causal", "tiny-causal"):
        model, tokenizer = _causal(None, fmt.k, tiny)
        return Bridge(model, tokenizer, fmt, "causal", family, device)
    if family.startswith("causal:"):
        model, tokenizer = _causal(Path(family[len("causal:"):]), fmt.k, tiny=False)
        return Bridge(model, tokenizer, fmt, "causal", family, device)
    if family.startswith("seq2seq:"):
        folder = family[len("seq2seq:"):]
        tokenizer = _with_markers(AutoTokenizer.from_pretrained(folder), fmt.k)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder)
        model.resize_token_embeddings(len(tokenizer))
        return Bridge(model, tokenizer, fmt, "seq2seq", family, device)
    raise ValueError(f"unknown bridge family {family!r}: use one of {', '.join(FAMILIES)}, "
                     "seq2seq:PATH or causal:PATH")
