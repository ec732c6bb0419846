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
        """Top-k passages per example by BM25 score, ties (the score-0 passages that fill up
        a query with fewer than k matches) broken by corpus order; a passage the example may
        not see is never returned.

        bm25s's own top-k cannot be used for this: its `argpartition` orders ties
        differently on different CPUs, and a masked-out passage scores 0 like an unmatched
        one, so it could be picked among the ties."""
        results: list[list[Hit]] = []
        for example in examples:
            mask = allowed_mask(self.corpus, example, self._groups)
            allowed = np.arange(len(self.corpus)) if mask is None else np.flatnonzero(mask)
            if len(allowed) == 0 or k < 1:
                results.append([])
                continue
            tokens = bm25s.tokenize([example.query], stopwords="en", show_progress=False,
                                    return_ids=False)[0]
            known = [token for token in tokens if token in self._index.vocab_dict]
            scores = (self._index.get_scores(known)[allowed] if known
                      else np.zeros(len(allowed), dtype=np.float32))
            order = np.lexsort((allowed, -scores))[:k]  # score descending, then position
            results.append([Hit(self.corpus[int(allowed[i])], float(scores[i]), rank)
                            for rank, i in enumerate(order, 1)])
        return results
