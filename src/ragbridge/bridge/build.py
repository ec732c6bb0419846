"""New (untrained) bridges of a family.

- `minilm-fid` (default): the bundled all-MiniLM-L6-v2 reads each (query, candidate) pair;
  a 2-layer pointer decoder generates the id sequence
- `encoder:PATH`: the same with any transformers encoder folder (BERT, RoBERTa, E5, a T5
  encoder ...): with a GPU and a larger downloaded encoder, change only this and `--device`
- `tiny-fid`: a tiny random encoder, for testing mechanics only
"""

from __future__ import annotations

from typing import Any

from ragbridge.bridge.format import BridgeFormat
from ragbridge.bridge.model import Bridge, BridgeModel, PointerDecoder

FAMILIES = ("minilm-fid",)
DEFAULT_FAMILY = "minilm-fid"


def _encoder(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    from ragbridge.fingerprint import local_model

    path = local_model(path, "bridge encoder (encoder:PATH)")
    return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _tiny_encoder() -> tuple[Any, Any]:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ragbridge.assets import minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    return BertModel(config, add_pooling_layer=False), tokenizer


def is_family(name: str) -> bool:
    """Whether `name` names a family (rather than a trained bridge folder)."""
    return name in FAMILIES or name == "tiny-fid" or name.startswith("encoder:")


def build_bridge(family: str = DEFAULT_FAMILY, fmt: BridgeFormat | None = None,
                 device: str = "cpu", seed: int = 0) -> Bridge:
    """A new bridge of `family` (see the module docstring), ready for SL or RL training."""
    import torch

    from ragbridge.assets import minilm_dir

    torch.manual_seed(seed)
    fmt = fmt or BridgeFormat()
    if family == "minilm-fid":
        encoder, tokenizer = _encoder(str(minilm_dir()))
    elif family.startswith("encoder:"):
        encoder, tokenizer = _encoder(family[len("encoder:"):])
    elif family == "tiny-fid":
        encoder, tokenizer = _tiny_encoder()
    else:
        raise ValueError(f"unknown bridge family {family!r}: use minilm-fid, encoder:PATH "
                         "or tiny-fid")
    hidden = encoder.config.hidden_size
    heads = 4 if hidden % 4 == 0 else 1
    decoder = PointerDecoder(hidden, layers=2, heads=heads, max_steps=fmt.max_ids + 1,
                             max_k=max(fmt.k, 32))
    return Bridge(BridgeModel(encoder, decoder), tokenizer, fmt, family, device)
