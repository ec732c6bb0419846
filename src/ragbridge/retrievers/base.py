"""The Retriever protocol, group/exclude masking, and construction by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ragbridge.records import Example, Hit, Passage


@runtime_checkable
class Retriever(Protocol):
    """Ranks corpus passages for examples; honours Example.group and Example.exclude."""

    name: str

    def retrieve(self, examples: Sequence[Example], k: int) -> list[list[Hit]]:
        """Top-k hits for each example, best first, ranks starting at 1."""
        ...


def allowed_mask(corpus: Sequence[Passage], example: Example,
                 group_index: dict[str | None, np.ndarray]) -> np.ndarray | None:
    """Boolean mask of passages this example may see, or None when it may see all."""
    if example.group is None and not example.exclude:
        return None
    if example.group is not None:
        mask = np.zeros(len(corpus), dtype=bool)
        mask[group_index.get(example.group, np.array([], dtype=np.int64))] = True
    else:
        mask = np.ones(len(corpus), dtype=bool)
    if example.exclude:
        excluded = set(example.exclude)
        for position in np.flatnonzero(mask):
            if corpus[position].id in excluded:
                mask[position] = False
    return mask


def group_positions(corpus: Sequence[Passage]) -> dict[str | None, np.ndarray]:
    """Positions of the passages of each group."""
    positions: dict[str | None, list[int]] = {}
    for position, passage in enumerate(corpus):
        positions.setdefault(passage.group, []).append(position)
    return {group: np.array(items, dtype=np.int64) for group, items in positions.items()}
