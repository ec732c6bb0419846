"""The point-wise baseline on the real bundled MiniLM: it learns silver labels and thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragbridge.records import Passage
from ragbridge.reranker import PointwiseReranker


def test_reranker_learns_silver_labels_and_round_trips(tmp_path: Path, small_corpus) -> None:
    passages: list[Passage] = small_corpus[:3]  # Eiffel, photosynthesis, Pacific
    examples = [("what is the largest ocean", passages, {2}),
                ("where is the eiffel tower", passages, {0}),
                ("how do plants turn light into energy", passages, {1})]
    reranker = PointwiseReranker(max_length=64)
    losses = reranker.train(examples * 4, epochs=3, batch_size=9, learning_rate=5e-5)
    assert sum(losses[-3:]) < sum(losses[:3])
    for query, candidates, positive in examples:
        scores = reranker.scores(query, candidates)
        assert max(range(3), key=scores.__getitem__) in positive
    reranker.threshold = max(reranker.scores(*examples[0][:2])) - 1e-3
    assert reranker.select(*examples[0][:2]) == [2]
    assert reranker.scores("anything", []) == []
    reranker.save_pretrained(tmp_path / "ce")
    loaded = PointwiseReranker(tmp_path / "ce", max_length=64)
    assert loaded.scores(*examples[0][:2]) == pytest.approx(reranker.scores(*examples[0][:2]),
                                                            abs=1e-5)
