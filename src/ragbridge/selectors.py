"""The `Selector` protocol: whatever chooses which candidates the frozen LLM sees, in order.

A selector maps each query and its candidate passages (in retriever order) to 0-based
positions into those candidates: any order, repeats allowed, empty allowed. The bridge, the
point-wise reranker, top-k, no retrieval and the silver oracle all implement it, so
evaluation, `BridgedRAG`, the HTTP service and the framework adapters take any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ragbridge.records import Passage
from ragbridge.silver.records import require_same_candidates


@runtime_checkable
class Selector(Protocol):
    """Chooses, per query, the sequence of candidate positions the LLM should see."""

    def select_batch(self, queries: Sequence[str],
                     candidate_lists: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """0-based positions into each query's candidates (repeats and empty allowed)."""
        ...


def select_one(selector: Selector, query: str, candidates: Sequence[Passage]) -> list[int]:
    """One query through any selector."""
    return selector.select_batch([query], [candidates])[0]


@dataclass(frozen=True)
class TopK:
    """The retriever's first k candidates in its order (k=None: all of them)."""

    k: int | None = None

    def select_batch(self, queries: Sequence[str],
                     candidate_lists: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """`range(min(k, len(candidates)))` for each query."""
        return [list(range(len(c) if self.k is None else min(self.k, len(c))))
                for c in candidate_lists]

    def select(self, query: str, candidates: Sequence[Passage]) -> list[int]:
        """One query."""
        return select_one(self, query, candidates)


class NoRetrieval(TopK):
    """No passage at all: the LLM answers from its own knowledge."""

    def __init__(self) -> None:
        super().__init__(0)

    def __repr__(self) -> str:
        return "NoRetrieval()"


def _key(query: str, candidates: Sequence[Passage]) -> tuple[str, tuple[str, ...]]:
    return query, tuple(p.id for p in candidates)


class SilverOracle:
    """The silver search's sequences replayed: known (query, candidates) -> their positions.

    Every position is checked against the candidates it will index, so silver searched with
    a larger K than the one evaluated fails with a clear message instead of an IndexError.
    """

    def __init__(self, table: dict[tuple[str, tuple[str, ...]], list[int]],
                 source: str = "silver") -> None:
        self.table = table
        self.source = source

    @classmethod
    def from_records(cls, items: Iterable[Any], records: Iterable[dict[str, Any]],
                     source: str = "silver") -> SilverOracle:
        """Join silver records (`id`, `silver_positions`) with the candidates they index.

        `items` are `Candidates`; records whose id has no candidates are ignored.
        """
        by_id = {str(r["id"]): r for r in records}
        table: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for item in items:
            record = by_id.get(item.example.id)
            if record is None:
                continue
            require_same_candidates(record, item, source)
            positions = [int(p) for p in record["silver_positions"]]
            bad = [p for p in positions if not 0 <= p < len(item.hits)]
            if bad:
                raise ValueError(
                    f"{source}: the silver sequence of {item.example.id!r} names candidate "
                    f"{max(bad) + 1}, but only {len(item.hits)} are evaluated: it was searched "
                    "with a larger K; evaluate with the K the silver search used")
            table[_key(item.example.query, item.passages)] = positions
        return cls(table, source)

    def __contains__(self, key: tuple[str, Sequence[Passage]]) -> bool:
        return _key(*key) in self.table

    def select_batch(self, queries: Sequence[str],
                     candidate_lists: Sequence[Sequence[Passage]]) -> list[list[int]]:
        """The silver positions of each (query, candidates); unknown pairs raise KeyError."""
        chosen = []
        for query, candidates in zip(queries, candidate_lists, strict=True):
            key = _key(query, candidates)
            if key not in self.table:
                raise KeyError(f"{self.source} has no sequence for query {query[:60]!r} with "
                               "these candidates")
            chosen.append(list(self.table[key]))
        return chosen
