"""Dense retrieval with sentence-transformers (default: the bundled all-MiniLM-L6-v2)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragbridge.fingerprint import content_digest
from ragbridge.paths import cache_dir
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Example, Hit, Passage
from ragbridge.retrievers.base import allowed_mask, group_positions


def _corpus_fingerprint(corpus: Sequence[Passage], model_path: str) -> str:
    digest = hashlib.sha256(content_digest(model_path).encode())
    for passage in corpus:
        digest.update(f"{passage.id}\x00{passage.title}\x00{passage.text}\x01".encode())
    return digest.hexdigest()[:24]


class DenseRetriever:
    """Cosine similarity of normalised embeddings; corpus embeddings cached on disk."""

    name = "dense"

    def __init__(self, corpus: Sequence[Passage], model_path: str | None = None,
                 device: str = "cpu", batch_size: int = 64,
                 progress: ProgressCallback | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        from ragbridge.assets import minilm_dir

        self.corpus = list(corpus)
        self._groups = group_positions(self.corpus)
        path = str(model_path or minilm_dir())
        self.model = SentenceTransformer(path, device=device, local_files_only=True)
        self.batch_size = batch_size
        self._embeddings = self._corpus_embeddings(path, progress)

    def _corpus_embeddings(self, model_path: str,
                           progress: ProgressCallback | None) -> np.ndarray:
        cache = cache_dir() / "embeddings"
        cache.mkdir(parents=True, exist_ok=True)
        file = cache / f"{_corpus_fingerprint(self.corpus, model_path)}.npy"
        if file.exists():
            return np.load(file)
        texts = [f"{p.title}. {p.text}" if p.title else p.text for p in self.corpus]
        parts = []
        step = self.batch_size * 16
        for start in range(0, len(texts), step):
            parts.append(self.model.encode(texts[start:start + step], batch_size=self.batch_size,
                                           normalize_embeddings=True, convert_to_numpy=True))
            report(progress, "embedding the corpus", min(start + step, len(texts)), len(texts))
        embeddings = (np.concatenate(parts) if parts else np.zeros((0, 0))).astype(np.float32)
        partial = Path(str(file) + ".part.npy")
        np.save(partial, embeddings)
        partial.replace(file)
        return embeddings

    def retrieve(self, examples: Sequence[Example], k: int) -> list[list[Hit]]:
        """Top-k passages per example by cosine similarity."""
        if not examples:
            return []
        queries = self.model.encode([e.query for e in examples], batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True)
        scores = queries.astype(np.float32) @ self._embeddings.T
        results: list[list[Hit]] = []
        for example, row in zip(examples, scores, strict=True):
            mask = allowed_mask(self.corpus, example, self._groups)
            if mask is not None:
                row = np.where(mask, row, -np.inf)
            depth = min(k, int(np.isfinite(row).sum()))
            top = np.argsort(-row, kind="stable")[:depth]
            results.append([Hit(self.corpus[int(p)], float(row[p]), rank)
                            for rank, p in enumerate(top, 1)])
        return results
