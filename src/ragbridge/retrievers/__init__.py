"""Retrievers: query -> ranked passages, behind one protocol."""

from __future__ import annotations

from collections.abc import Sequence

from ragbridge.progress import ProgressCallback
from ragbridge.records import Passage
from ragbridge.retrievers.base import Retriever, allowed_mask

__all__ = ["Retriever", "allowed_mask", "build_retriever"]


def build_retriever(name: str, corpus: Sequence[Passage], device: str = "cpu",
                    batch_size: int = 64, progress: ProgressCallback | None = None) -> Retriever:
    """'bm25' or 'dense' (bundled all-MiniLM-L6-v2), 'dense:PATH' for another model, or
    'given:PATH' for candidates retrieved elsewhere (ragbridge.retrievers.given)."""
    if name == "bm25":
        from ragbridge.retrievers.bm25 import BM25Retriever

        return BM25Retriever(corpus)
    if name == "dense" or name.startswith("dense:"):
        from ragbridge.retrievers.dense import DenseRetriever

        model = name.split(":", 1)[1] if ":" in name else None
        return DenseRetriever(corpus, model_path=model, device=device, batch_size=batch_size,
                              progress=progress)
    if name.startswith("given:"):
        from pathlib import Path

        from ragbridge.retrievers.given import GivenCandidates

        return GivenCandidates(Path(name.split(":", 1)[1]))
    raise ValueError(f"unknown retriever {name!r}: choose 'bm25', 'dense', 'dense:PATH' or "
                     "'given:PATH'")
