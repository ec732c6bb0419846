"""BM25 over title + text with bm25s."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from ragbridge.records import Example, Hit, Passage
from ragbridge.retrievers.base import allowed_mask, group_positions


class BM25Retriever:
    """Sparse lexical retriever (Lucene BM25 variant), indexed in memory."""

    name = "bm25"

    def __init__(self, corpus: Sequence[Passage]) -> None:
        self.corpus = list(corpus)
        self._groups = group_positions(self.corpus)
        tokens = bm25s.tokenize([f"{p.title} {p.text}" for p in self.corpus], stopwords="en",
                                show_progress=False)
        self._index = bm25s.BM25()
        self._index.index(tokens, show_progress=False)

    def retrieve(self, examples: Sequence[Example], k: int) -> list[list[Hit]]:
        """Top-k passages per example by BM25 score (ties broken by corpus order)."""
        results: list[list[Hit]] = []
        for example in examples:
            mask = allowed_mask(self.corpus, example, self._groups)
            available = len(self.corpus) if mask is None else int(mask.sum())
            depth = min(k, available)
            if depth == 0:
                results.append([])
                continue
            tokens = bm25s.tokenize([example.query], stopwords="en", show_progress=False)
            weights = None if mask is None else mask.astype(np.float32)
            positions, scores = self._index.retrieve(tokens, k=depth, show_progress=False,
                                                     weight_mask=weights)
            pairs = zip(positions[0], scores[0], strict=True)
            results.append([Hit(self.corpus[int(p)], float(s), rank)
                            for rank, (p, s) in enumerate(pairs, 1)])
        return results
