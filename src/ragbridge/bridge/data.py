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


def _silver_positions(path: Path) -> dict[str, tuple[int, ...]]:
    def parse(record: dict) -> tuple[str, tuple[int, ...]]:
        positions = record["silver_positions"]
        if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
            raise ValueError("'silver_positions' must be a list of integers")
        return str(record["id"]), tuple(positions)

    return dict(read_jsonl(path, parse))


def load_bridge_examples(run: RunDir, split: str, k: int, limit: int | None = None,
                         need_silver: bool = True) -> list[BridgeExample]:
    """Candidates of `split` (first k hits) with their silver positions where searched."""
    from dataclasses import replace

    items = [replace(c, hits=c.hits[:k]) for c in run.candidates(split)]
    path = run.silver_path(split)
    silver = _silver_positions(path) if path.exists() else {}
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
