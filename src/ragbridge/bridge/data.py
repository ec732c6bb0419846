"""Training and evaluation examples for the bridge: candidates joined with silver sequences."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ragbridge.records import Candidates, Passage
from ragbridge.silver.records import (
    first_step_utilities,
    is_informative,
    require_same_candidates,
)


@dataclass(frozen=True)
class BridgeExample:
    """One query, its candidates, and (when known) the silver positions to imitate and the
    utility the search measured for each candidate alone and for the empty sequence."""

    item: Candidates
    silver: tuple[int, ...] | None = None
    singles: tuple[float | None, ...] | None = None  # per candidate position, then empty

    @property
    def query(self) -> str:
        """The query / task input."""
        return self.item.example.query

    @property
    def passages(self) -> list[Passage]:
        """Candidate passages in retriever order."""
        return [hit.passage for hit in self.item.hits]


def examples_digest(examples: Sequence[BridgeExample]) -> str:
    """The SHA-256 of what a trainer learns from: each example's id, candidate ids and silver
    (a checkpoint resumed on other data would mix two trainings under one name)."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps([example.item.example.id,
                                  [hit.passage.id for hit in example.item.hits],
                                  None if example.silver is None else list(example.silver)]
                                 ).encode() + b"\n")
    return digest.hexdigest()


def join_silver(items: Sequence[Candidates], records: Iterable[dict[str, Any]],
                need_silver: bool = True, informative_only: bool = False,
                source: str = "silver") -> list[BridgeExample]:
    """Candidates with the silver positions of their records.

    `need_silver` drops items without a record; `informative_only` keeps only searches where
    some passage changed the utility (`silver.is_informative`). A silver position beyond an
    item's candidates is a clear error (the search used a larger K).
    """
    kept: dict[str, dict[str, Any]] = {}
    for record in records:
        positions = record["silver_positions"]
        if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
            raise ValueError(f"{source}: 'silver_positions' of {record.get('id')!r} must be a "
                             "list of integers")
        if informative_only and not is_informative(record):
            continue
        kept[str(record["id"])] = record
    if need_silver:
        items = [c for c in items if c.example.id in kept]
    for item in items:
        if item.example.id in kept:
            require_same_candidates(kept[item.example.id], item, source)
    examples = [_example(c, kept.get(c.example.id)) for c in items]
    for example in examples:
        if example.silver and max(example.silver) >= len(example.item.hits):
            raise ValueError(f"{source}: silver of {example.item.example.id!r} names candidate "
                             f"{max(example.silver) + 1} of {len(example.item.hits)}: searched "
                             "with a larger K than this run's")
    return examples


def _example(item: Candidates, record: dict[str, Any] | None) -> BridgeExample:
    """The item with its record's silver positions and first-step utilities, if any."""
    if record is None:
        return BridgeExample(item)
    utilities = first_step_utilities(record, len(item.hits))
    return BridgeExample(item, tuple(record["silver_positions"]),
                         None if utilities is None else tuple(utilities))
