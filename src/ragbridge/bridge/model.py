"""The bridge: (query, numbered candidates) -> the sequence of candidate ids the LLM should see.

One class over two model families with the same text format (see `bridge.format`):
a seq2seq model (any `AutoModelForSeq2SeqLM`, or an `EncoderDecoderModel`) or a decoder-only
causal LM, which reads `<input>\nselect:` and continues with the ids. Decoding is
constrained to this example's ids, `<empty>` (first step only) and the end token, so every
output parses; greedy and sampling are both supported, and `sequence_logprobs` scores a
given id sequence under the same constraint (what RL needs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from ragbridge.bridge.format import (
    EMPTY,
    BridgeFormat,
    serialize_input,
    special_tokens,
)
from ragbridge.jsonl import write_json
from ragbridge.records import Passage

Kind = Literal["seq2seq", "causal"]
CONFIG_FILE = "bridge_config.json"
CAUSAL_CUE = "\nselect:"


class Bridge:
    """A trainable passage-sequence selector with sentence-transformers-like habits.

    A `Selector`: `select_batch(queries, candidate_lists)` gives the id sequence per query.
    """

    def __init__(self, model: Any, tokenizer: Any, fmt: BridgeFormat, kind: Kind,
                 family: str = "custom", device: str = "cpu") -> None:
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.format = fmt
        self.kind = kind
        self.family = family
        self.device = device
        missing = [t for t in special_tokens(fmt.k) if t not in tokenizer.get_vocab()]
        if missing:
            raise ValueError(f"tokenizer lacks the bridge markers {missing}: build the bridge "
                             "with ragbridge.bridge.build_bridge")
        self.id_tokens = tokenizer.convert_tokens_to_ids(special_tokens(fmt.k)[:-1])
        self.empty_token = tokenizer.convert_tokens_to_ids(EMPTY)
        self.eos_token = self._eos_token()
        self.pad_token = tokenizer.pad_token_id
        self._position_of = {token: n for n, token in enumerate(self.id_tokens)}

    def _eos_token(self) -> int:
        if self.kind == "seq2seq":
            return int(self.model.generation_config.eos_token_id
                       if isinstance(self.model.generation_config.eos_token_id, int)
                       else self.model.generation_config.eos_token_id[0])
        return int(self.tokenizer.eos_token_id)

    # ---- text ---------------------------------------------------------------------------
    def input_text(self, query: str, passages: Sequence[Passage]) -> str:
        """The serialized input (query + first K candidates, each within its budget)."""
        text = serialize_input(query, passages, self.tokenizer, self.format)
        return text + CAUSAL_CUE if self.kind == "causal" else text

    def target_tokens(self, positions: Sequence[int]) -> list[int]:
        """Token ids of an output: the id markers (or `<empty>`) and the end token."""
        if any(p < 0 or p >= self.format.k for p in positions):
            raise ValueError(f"positions {list(positions)} outside 0..{self.format.k - 1}")
        body = [self.id_tokens[p] for p in positions] or [self.empty_token]
        return body + [self.eos_token]

    # ---- constraint ---------------------------------------------------------------------
    def allowed_next(self, generated: Sequence[int], count: int) -> list[int]:
        """Tokens that may follow `generated` for an example with `count` candidates."""
        ids = self.id_tokens[:min(count, self.format.k)]
        if generated and generated[-1] in (self.eos_token, self.pad_token):
            return [self.eos_token] if self.pad_token is None else [self.eos_token,
                                                                    self.pad_token]
        if not generated:
            return [*ids, self.empty_token]
        if generated[-1] == self.empty_token or len(generated) >= self.format.max_ids:
            return [self.eos_token]
        return [*ids, self.eos_token]

    def _positions(self, tokens: Sequence[int]) -> list[int]:
        positions = []
        for token in tokens:
            if token in (self.eos_token, self.pad_token, self.empty_token):
                break
            positions.append(self._position_of[token])
        return positions

    # ---- inference ----------------------------------------------------------------------
    def _encode(self, texts: list[str], left_pad: bool) -> dict[str, torch.Tensor]:
        self.tokenizer.padding_side = "left" if left_pad else "right"
        limit = getattr(self.model.config, "max_position_embeddings", None) \
            or getattr(getattr(self.model.config, "encoder", None), "max_position_embeddings",
                       None) or 2048
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                                 max_length=limit, add_special_tokens=self.kind == "seq2seq")
        return {k: v.to(self.device) for k, v in encoded.items() if k != "token_type_ids"}

    @torch.inference_mode()
    def generate(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
                 sample: bool = False, temperature: float = 1.0,
                 batch_size: int = 16) -> list[list[int]]:
        """Constrained id sequences (0-based candidate positions) for a batch of queries."""
        results: list[list[int]] = []
        was_training = self.model.training
        self.model.eval()
        for start in range(0, len(queries), batch_size):
            chunk_q = queries[start:start + batch_size]
            chunk_p = passages[start:start + batch_size]
            counts = [min(len(p), self.format.k) for p in chunk_p]
            texts = [self.input_text(q, p) for q, p in zip(chunk_q, chunk_p, strict=True)]
            encoded = self._encode(texts, left_pad=self.kind == "causal")
            skip = 1 if self.kind == "seq2seq" else encoded["input_ids"].shape[1]

            def allowed(row: int, tokens: torch.Tensor, counts: list[int] = counts,
                        skip: int = skip) -> list[int]:
                return self.allowed_next(tokens[skip:].tolist(), counts[row])

            output = self.model.generate(
                **encoded, max_new_tokens=self.format.max_ids + 1, do_sample=sample,
                temperature=temperature if sample else None, top_k=None, top_p=None,
                num_beams=1, prefix_allowed_tokens_fn=allowed, pad_token_id=self.pad_token,
                eos_token_id=self.eos_token)
            generated = output[:, skip:] if self.kind == "causal" else output[:, 1:]
            results += [self._positions(row.tolist()) for row in generated]
        self.model.train(was_training)
        return results

    @property
    def k(self) -> int:
        """How many candidates the bridge reads (and ids it may emit)."""
        return self.format.k

    def select(self, query: str, passages: Sequence[Passage]) -> list[int]:
        """0-based positions (into `passages`) of the sequence the LLM should see."""
        return self.generate([query], [passages])[0]

    def select_batch(self, queries: Sequence[str],
                     passages: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """`select` for many queries at once (greedy)."""
        return self.generate(queries, passages)

    # ---- training -----------------------------------------------------------------------
    def _teacher_forced_logits(self, texts: list[str], targets: list[list[int]]
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits at each target token ([batch, steps, vocab]) and the padded targets."""
        steps = max(len(t) for t in targets)
        padded = torch.full((len(targets), steps), -100, dtype=torch.long)
        for row, target in enumerate(targets):
            padded[row, :len(target)] = torch.tensor(target)
        padded = padded.to(self.device)
        if self.kind == "seq2seq":
            encoded = self._encode(texts, left_pad=False)
            logits = self.model(**encoded, labels=padded).logits
            return logits, padded
        encoded = self._encode(texts, left_pad=True)
        fill = torch.where(padded < 0, torch.full_like(padded, self.eos_token), padded)
        input_ids = torch.cat([encoded["input_ids"], fill], dim=1)
        mask = torch.cat([encoded["attention_mask"], (padded >= 0).long()], dim=1)
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits
        prompt = encoded["input_ids"].shape[1]
        return logits[:, prompt - 1:prompt - 1 + steps], padded

    def loss(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
             positions: Sequence[Sequence[int]]) -> torch.Tensor:
        """Mean token cross-entropy of the target id sequences (teacher forcing), normalised
        over the tokens the constrained decoder may emit at each step (the ids, `<empty>`,
        the end), so training and decoding see the same choice."""
        logprobs, mask = self.sequence_logprobs(queries, passages, positions)
        return -(logprobs * mask).sum() / mask.sum().clamp(min=1)

    @torch.no_grad()
    def input_features(self, queries: Sequence[str],
                       passages: Sequence[Sequence[Passage]]) -> torch.Tensor:
        """A fixed-size summary of each input ([batch, hidden]) for value heads: the mean
        encoder state (seq2seq) or the last input position's final hidden state (causal)."""
        texts = [self.input_text(q, p) for q, p in zip(queries, passages, strict=True)]
        if self.kind == "seq2seq":
            encoded = self._encode(texts, left_pad=False)
            states = self.model.get_encoder()(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
            return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        encoded = self._encode(texts, left_pad=True)
        output = self.model(**encoded, output_hidden_states=True)
        return output.hidden_states[-1][:, -1]

    def sequence_logprobs(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
                          positions: Sequence[Sequence[int]]) -> tuple[torch.Tensor,
                                                                       torch.Tensor]:
        """Per-token log-probs under the decoding constraint ([batch, steps]) and a mask."""
        texts = [self.input_text(q, p) for q, p in zip(queries, passages, strict=True)]
        tokens = [self.target_tokens(p) for p in positions]
        logits, targets = self._teacher_forced_logits(texts, tokens)
        allowed = torch.zeros_like(logits, dtype=torch.bool)
        for row, target in enumerate(tokens):
            count = min(len(passages[row]), self.format.k)
            for step in range(len(target)):
                allowed[row, step, self.allowed_next(target[:step], count)] = True
        logprobs = torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
        mask = targets >= 0
        picked = logprobs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return picked.masked_fill(~mask, 0.0), mask

    # ---- persistence --------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """A folder with the model, the tokenizer and bridge_config.json."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        write_json(folder / CONFIG_FILE, {"kind": self.kind, "family": self.family,
                                          "format": self.format.to_dict()})

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> Bridge:
        """Load a folder written by `save_pretrained`."""
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        from ragbridge.folders import recover_folder

        folder = Path(path)
        recover_folder(folder)  # a crash mid-swap leaves the model aside: put it back
        config_file = folder / CONFIG_FILE
        if not config_file.exists():
            raise FileNotFoundError(f"{config_file} missing: not a bridge folder")
        config = json.loads(config_file.read_text())
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if config["kind"] == "causal":
            model = AutoModelForCausalLM.from_pretrained(folder)
        elif (folder / "config.json").exists() and json.loads(
                (folder / "config.json").read_text()).get("model_type") == "encoder-decoder":
            from transformers import EncoderDecoderModel

            model = EncoderDecoderModel.from_pretrained(folder)
        else:
            model = AutoModelForSeq2SeqLM.from_pretrained(folder)
        return cls(model, tokenizer, BridgeFormat(**config["format"]), config["kind"],
                   config.get("family", "custom"), device)
