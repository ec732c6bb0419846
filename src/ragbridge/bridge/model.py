"""The bridge: (query, K candidates) -> the sequence of candidate ids the LLM should see.

A fusion-in-decoder pointer network:

- a pretrained encoder (the bundled MiniLM by default) reads each (query, candidate) pair on
  its own, as a cross-encoder does, and mean-pools it into one vector per candidate; a
  learned rank embedding is added, so the retriever's order stays visible;
- a small Transformer decoder generates the sequence: its input at step t is the vector of
  the candidate chosen at step t-1 (a learned start vector at t=0), it attends over the K
  candidate vectors, and a pointer scores which candidate comes next (a scaled dot product of
  the decoder state with each candidate, plus a linear score of the candidate itself, the
  point-wise path a cross-encoder would learn), beside a stop score. Stopping at the first
  step is the empty sequence; repeats and any order are allowed; `max_ids` steps at most.

Why this shape: reading one long concatenation of all candidates did not learn to point at
a candidate by its content at all (a constant output on a copy task), while pair encodings
with a pointer learn it in tens of steps (docs/notes/experiments.md, "Can the bridge learn
to point?").

Greedy and sampled decoding share one step function; `sequence_logprobs` scores a given
sequence under the same constraint (what SL and RL need).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ragbridge.bridge.format import BridgeFormat, passage_text, truncate_tokens
from ragbridge.jsonl import write_json
from ragbridge.records import Passage

CONFIG_FILE = "bridge_config.json"
HEAD_FILE = "pointer.safetensors"
KIND = "fid-pointer"


def load_saved_encoder(path: Any) -> Any:
    """A saved bridge's encoder, built without a pooler where the architecture has one: the
    bridge mean-pools and saves no pooler, so building one would report it missing and
    initialise it at random."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(path, add_pooling_layer=False)
    except TypeError:  # an architecture without the option (and without a pooler)
        return AutoModel.from_pretrained(path)


class PointerDecoder(nn.Module):
    """Generates candidate positions over K candidate vectors (see the module docstring)."""

    def __init__(self, hidden: int, layers: int = 2, heads: int = 4, max_steps: int = 8,
                 max_k: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden = hidden
        self.start = nn.Parameter(torch.randn(hidden) * 0.02)
        self.step_embedding = nn.Embedding(max_steps + 1, hidden)
        self.rank_embedding = nn.Embedding(max_k, hidden)
        layer = nn.TransformerDecoderLayer(hidden, heads, 4 * hidden, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.relevance = nn.Linear(hidden, 1)  # a cross-encoder-like score of each pair
        self.stop = nn.Linear(hidden, 1)
        for embedding in (self.step_embedding, self.rank_embedding):  # small, so the rank
            nn.init.normal_(embedding.weight, std=0.02)  # does not drown the pair vectors

    def memory(self, pairs: torch.Tensor) -> torch.Tensor:
        """Candidate vectors [B, K, H] with their rank embeddings added."""
        ranks = torch.arange(pairs.shape[1], device=pairs.device)
        return pairs + self.rank_embedding(ranks).unsqueeze(0)

    def forward(self, memory: torch.Tensor, valid: torch.Tensor,
                previous: torch.Tensor) -> torch.Tensor:
        """Logits [B, T, K+1] (the last one: stop) for each step, given the previous action
        of every step ([B, T], -1 for the start)."""
        batch, steps = previous.shape
        gathered = memory[torch.arange(batch, device=memory.device).unsqueeze(1),
                          previous.clamp(min=0)]
        start = self.start.expand(batch, steps, -1)
        inputs = torch.where((previous < 0).unsqueeze(-1), start, gathered)
        inputs = inputs + self.step_embedding(torch.arange(steps, device=memory.device))
        causal = torch.triu(torch.full((steps, steps), float("-inf"), device=memory.device),
                            diagonal=1)
        states = self.decoder(inputs, memory, tgt_mask=causal,
                              memory_key_padding_mask=~valid)
        pointer = torch.einsum("bth,bkh->btk", self.query(states), self.key(memory))
        pointer = pointer / math.sqrt(self.hidden) + self.relevance(memory).transpose(1, 2)
        pointer = pointer.masked_fill(~valid.unsqueeze(1), float("-inf"))
        return torch.cat([pointer, self.stop(states)], dim=-1)


class BridgeModel(nn.Module):
    """The encoder and the pointer decoder, as one module (parameters, train/eval, state)."""

    def __init__(self, encoder: nn.Module, decoder: PointerDecoder) -> None:
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None  # unused (the bridge mean-pools): no dead parameters
        self.encoder = encoder
        self.decoder = decoder


class Bridge:
    """A trainable passage-sequence selector with sentence-transformers-like habits.

    A `Selector`: `select_batch(queries, candidate_lists)` gives the id sequence per query.
    """

    def __init__(self, model: BridgeModel, tokenizer: Any, fmt: BridgeFormat,
                 family: str = "custom", device: str = "cpu") -> None:
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.format = fmt
        self.family = family
        self.kind = KIND
        self.device = device
        self._pair_cache: dict[tuple[str, str], torch.Tensor] | None = None

    @property
    def k(self) -> int:
        """How many candidates the bridge reads (and ids it may emit)."""
        return self.format.k

    def clone(self) -> Bridge:
        """An independent copy (same weights), e.g. the frozen reference of RL."""
        return Bridge(copy.deepcopy(self.model), self.tokenizer, self.format, self.family,
                      self.device)

    def freeze_encoder(self) -> None:
        """Stop training the encoder and remember every pair encoding it computes (in eval
        mode, so no dropout): later passes over the same (query, candidate) reuse them."""
        self.model.encoder.requires_grad_(False)
        self.model.encoder.eval()
        self._pair_cache = {}

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Everything but the encoder's word embeddings (kept frozen: no new tokens)."""
        embeddings = self.model.encoder.get_input_embeddings()
        embeddings.requires_grad_(False)
        frozen = {id(p) for p in embeddings.parameters()}
        return (p for p in self.model.parameters() if id(p) not in frozen)

    # ---- encoding -----------------------------------------------------------------------
    def _pairs(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]]
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Candidate vectors [B, K, H] (zero where missing) and the validity mask [B, K]."""
        k = self.format.k
        texts: list[tuple[str, str]] = []
        slots: list[tuple[int, int]] = []
        for row, (query, candidates) in enumerate(zip(queries, passages, strict=True)):
            short = truncate_tokens(" ".join(query.split()), self.format.query_tokens,
                                    self.tokenizer)
            for position, passage in enumerate(list(candidates)[:k]):
                texts.append((short, truncate_tokens(passage_text(passage),
                                                     self.format.passage_tokens,
                                                     self.tokenizer)))
                slots.append((row, position))
        hidden = self.model.decoder.hidden
        pairs = torch.zeros(len(queries), k, hidden, device=self.device)
        valid = torch.zeros(len(queries), k, dtype=torch.bool, device=self.device)
        if texts:
            cache = self._pair_cache
            missing = list(dict.fromkeys(t for t in texts if cache is None or t not in cache))
            if missing:
                computed = self._encode(missing)
                if cache is None:
                    cache = dict(zip(missing, computed, strict=True))
                else:
                    cache.update((t, v.detach()) for t, v in zip(missing, computed,
                                                                 strict=True))
            pooled = torch.stack([cache[t] for t in texts])
            rows = torch.tensor([r for r, _ in slots], device=self.device)
            columns = torch.tensor([c for _, c in slots], device=self.device)
            pairs = pairs.index_put((rows, columns), pooled)
            valid[rows, columns] = True
        return pairs, valid

    def _encode(self, texts: list[tuple[str, str]]) -> torch.Tensor:
        """Mean-pooled encoder states of (query, candidate) pairs: [N, H]."""
        encoded = self.tokenizer([q for q, _ in texts], [p for _, p in texts], padding=True,
                                 truncation="longest_first",
                                 max_length=self.format.query_tokens
                                 + self.format.passage_tokens + 3, return_tensors="pt")
        encoded = {name: value.to(self.device) for name, value in encoded.items()}
        if self._pair_cache is not None:  # frozen: always the same encoding, no dropout
            self.model.encoder.eval()
            with torch.no_grad():
                states = self.model.encoder(**encoded).last_hidden_state
        else:
            states = self.model.encoder(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def _allowed(self, valid: torch.Tensor, step: int) -> torch.Tensor:
        """[B, K+1] actions allowed at `step`: the valid candidates (below max_ids), stop."""
        stop = torch.ones(valid.shape[0], 1, dtype=torch.bool, device=valid.device)
        candidates = valid if step < self.format.max_ids else torch.zeros_like(valid)
        return torch.cat([candidates, stop], dim=1)

    # ---- inference ----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
                 sample: bool = False, temperature: float = 1.0,
                 batch_size: int = 16) -> list[list[int]]:
        """Id sequences (0-based candidate positions) for a batch of queries: greedy, or
        sampled at `temperature`."""
        results: list[list[int]] = []
        was_training = self.model.training
        self.model.eval()
        stop = self.format.k
        for start in range(0, len(queries), batch_size):
            chunk_q, chunk_p = queries[start:start + batch_size], passages[start:start + batch_size]
            pairs, valid = self._pairs(chunk_q, chunk_p)
            memory = self.model.decoder.memory(pairs)
            previous = torch.full((len(chunk_q), 1), -1, dtype=torch.long, device=self.device)
            done = torch.zeros(len(chunk_q), dtype=torch.bool, device=self.device)
            chosen: list[list[int]] = [[] for _ in chunk_q]
            for step in range(self.format.max_ids + 1):
                logits = self.model.decoder(memory, valid, previous)[:, -1]
                logits = logits.masked_fill(~self._allowed(valid, step), float("-inf"))
                if sample:
                    action = torch.multinomial(torch.softmax(logits / temperature, -1), 1)[:, 0]
                else:
                    action = logits.argmax(-1)
                for row, value in enumerate(action.tolist()):
                    if not done[row] and value != stop:
                        chosen[row].append(value)
                done |= action == stop
                if bool(done.all()):
                    break
                previous = torch.cat([previous, action.clamp(max=stop - 1).unsqueeze(1)], 1)
            results += chosen
        self.model.train(was_training)
        return results

    def select(self, query: str, passages: Sequence[Passage]) -> list[int]:
        """0-based positions (into `passages`) of the sequence the LLM should see."""
        return self.generate([query], [passages])[0]

    @property
    def max_candidates(self) -> int:
        """The most candidates it reads (K): later ones are never seen."""
        return self.format.k

    def select_batch(self, queries: Sequence[str],
                     candidate_lists: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """`select` for many queries at once (greedy)."""
        return self.generate(queries, candidate_lists)

    # ---- training -----------------------------------------------------------------------
    def sequence_logprobs(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
                          positions: Sequence[Sequence[int]]
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step log-probs of the given sequences, their final stop included (a stop
        forced by `max_ids` has log-prob 0), under the decoding constraint: ([B, steps],
        mask)."""
        logprobs, targets, mask = self._step_logprobs(queries, passages, positions)
        picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return picked.masked_fill(~mask, 0.0), mask

    def _step_logprobs(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
                       positions: Sequence[Sequence[int]]
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probs of every action at every step ([B, steps, K+1], -inf where
        not allowed), the actions taken ([B, steps]; K is stop) and the mask of real steps."""
        k = self.format.k
        for sequence, candidates in zip(positions, passages, strict=True):
            count = min(len(candidates), k)
            if len(sequence) > self.format.max_ids or any(not 0 <= p < count
                                                          for p in sequence):
                raise ValueError(f"positions {list(sequence)} are not a valid sequence over "
                                 f"{count} candidates (at most {self.format.max_ids} ids)")
        pairs, valid = self._pairs(queries, passages)
        memory = self.model.decoder.memory(pairs)
        steps = max(len(p) for p in positions) + 1
        previous = torch.full((len(positions), steps), -1, dtype=torch.long, device=self.device)
        targets = torch.full((len(positions), steps), k, dtype=torch.long, device=self.device)
        mask = torch.zeros((len(positions), steps), dtype=torch.bool, device=self.device)
        for row, sequence in enumerate(positions):
            if sequence:
                previous[row, 1:len(sequence) + 1] = torch.tensor(sequence)
                targets[row, :len(sequence)] = torch.tensor(sequence)
            mask[row, :len(sequence) + 1] = True
        logits = self.model.decoder(memory, valid, previous)
        allowed = torch.stack([self._allowed(valid, step) for step in range(steps)], dim=1)
        return torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1), \
            targets, mask

    def loss(self, queries: Sequence[str], passages: Sequence[Sequence[Passage]],
             positions: Sequence[Sequence[int]],
             first_targets: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy per decision (each id and the final stop), teacher-forced.

        `first_targets` ([B, K+1], rows summing to 1, the last column: stop) replaces the
        one-hot target of the first decision by a distribution, e.g. one spread over the
        candidates by their measured utilities; mass on an action that is not allowed (a
        missing candidate) is an error."""
        logprobs, targets, mask = self._step_logprobs(queries, passages, positions)
        picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, 0.0)
        if first_targets is not None:
            first = logprobs[:, 0]
            if bool(((first_targets > 0) & torch.isinf(first)).any()):
                raise ValueError("first_targets put mass on an action that is not allowed")
            picked[:, 0] = (first_targets.to(first) * first.masked_fill(
                torch.isinf(first), 0.0)).sum(-1)
        return -picked.sum() / mask.sum().clamp(min=1)

    @torch.no_grad()
    def input_features(self, queries: Sequence[str],
                       passages: Sequence[Sequence[Passage]]) -> torch.Tensor:
        """A fixed-size summary of each input ([B, H]) for value heads: the mean of its
        candidate vectors."""
        pairs, valid = self._pairs(queries, passages)
        weights = valid.unsqueeze(-1).to(pairs.dtype)
        return (pairs * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    # ---- persistence --------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """A folder: `encoder/` (a transformers model + tokenizer), the pointer decoder's
        weights and bridge_config.json."""
        from safetensors.torch import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.encoder.save_pretrained(folder / "encoder")
        self.tokenizer.save_pretrained(folder / "encoder")
        state = {k: v.detach().contiguous().cpu()
                 for k, v in self.model.decoder.state_dict().items()}
        save_file(state, folder / HEAD_FILE)
        decoder = self.model.decoder
        write_json(folder / CONFIG_FILE, {
            "kind": KIND, "family": self.family, "format": self.format.to_dict(),
            "decoder": {"hidden": decoder.hidden, "layers": len(decoder.decoder.layers),
                        "heads": decoder.decoder.layers[0].self_attn.num_heads,
                        "max_steps": decoder.step_embedding.num_embeddings - 1,
                        "max_k": decoder.rank_embedding.num_embeddings}})

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu") -> Bridge:
        """Load a folder written by `save_pretrained`."""
        from ragbridge.folders import reading

        with reading(path) as folder:  # a swap half done (a crash, a writer) is never seen
            return cls._load(folder, device)

    @classmethod
    def _load(cls, folder: Path, device: str) -> Bridge:
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        config_file = folder / CONFIG_FILE
        if not config_file.exists():
            raise FileNotFoundError(f"{config_file} missing: not a bridge folder")
        config = json.loads(config_file.read_text())
        if config.get("kind") != KIND:
            raise ValueError(f"{folder} holds a {config.get('kind')!r} bridge, which this "
                             "version no longer reads (retrain it with `ragbridge train-sl`)")
        tokenizer = AutoTokenizer.from_pretrained(folder / "encoder")
        encoder = load_saved_encoder(folder / "encoder")
        decoder = PointerDecoder(**config["decoder"])
        decoder.load_state_dict(load_file(folder / HEAD_FILE))
        model = BridgeModel(encoder, decoder).eval()  # loaded for use: no dropout until trained
        return cls(model, tokenizer, BridgeFormat(**config["format"]),
                   config.get("family", "custom"), device)
