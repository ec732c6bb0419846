"""Training and evaluation examples for the bridge: candidates joined with silver sequences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ragbridge.jsonl import read_jsonl
from ragbridge.records import Candidates, Passage
from ragbridge.rundir import RunDir


@dataclass(frozen=True)
class BridgeExample:
    """One query, its candidates, and (when known) the silver positions to imitate."""

    item: Candidates
    silver: tuple[int, ...] | None = None

    @property
    def query(self) -> str:
        """The query / task input."""
        return self.item.example.query

    @property
    def passages(self) -> list[Passage]:
        """Candidate passages in retriever order."""
        return [hit.passage for hit in self.item.hits]


def is_informative(record: dict) -> bool:
    """Whether any single passage changed the metric against the empty sequence.

    With a 0/1 metric most QA searches end empty only because every candidate ties with no
    passage at all; such a record says nothing about which passages the LLM prefers.
    """
    first = next((step for step in record.get("trace", []) if step.get("step") == 1), None)
    if first is None:
        return bool(record["silver_positions"])
    return any(tried["score"] != record["empty_score"] for tried in first["tried"])


def _silver_positions(path: Path, informative_only: bool) -> dict[str, tuple[int, ...]]:
    def parse(record: dict) -> tuple[str, tuple[int, ...] | None]:
        positions = record["silver_positions"]
        if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
            raise ValueError("'silver_positions' must be a list of integers")
        if informative_only and not is_informative(record):
            return str(record["id"]), None
        return str(record["id"]), tuple(positions)

    return {key: value for key, value in read_jsonl(path, parse) if value is not None}


def load_bridge_examples(run: RunDir, split: str, k: int, limit: int | None = None,
                         need_silver: bool = True,
                         informative_only: bool = False) -> list[BridgeExample]:
    """Candidates of `split` (first k hits) with their silver positions where searched.

    `informative_only` keeps only searches where some passage changed the metric (see
    `is_informative`).
    """
    from dataclasses import replace

    items = [replace(c, hits=c.hits[:k]) for c in run.candidates(split)]
    path = run.silver_path(split)
    silver = _silver_positions(path, informative_only) if path.exists() else {}
    if need_silver:
        if not silver:
            raise FileNotFoundError(f"{path} missing: run `ragbridge silver --split {split}`")
        items = [c for c in items if c.example.id in silver]
    examples = [BridgeExample(c, silver.get(c.example.id)) for c in items[:limit]]
    for example in examples:
        if example.silver and max(example.silver) >= len(example.item.hits):
            raise ValueError(f"{path}: silver of {example.item.example.id!r} names candidate "
                             f"{max(example.silver) + 1} of {len(example.item.hits)}: "
                             f"searched with a larger K? ({json.dumps(list(example.silver))})")
    return examples
