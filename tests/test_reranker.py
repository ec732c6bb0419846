"""The point-wise baseline on the real bundled MiniLM: it learns silver labels and thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragbridge.records import Passage
from ragbridge.reranker.model import PointwiseReranker


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
    loaded = PointwiseReranker.from_pretrained(tmp_path / "ce")
    assert loaded.threshold == reranker.threshold
    assert loaded.scores(*examples[0][:2]) == pytest.approx(reranker.scores(*examples[0][:2]),
                                                            abs=1e-5)
    queries = [q for q, _, _ in examples]
    assert loaded.select_batch(queries, [c for _, c, _ in examples]) == [
        reranker.select(q, c) for q, c, _ in examples]


def test_threshold_is_tuned_on_the_downstream_metric(tmp_path: Path) -> None:
    from silver_fakes import EchoLLM, SequenceRewardTask, make_candidates

    from ragbridge.judge import Judge
    from ragbridge.llms import CachedLLM
    from ragbridge.reranker.model import tune_threshold

    dev = make_candidates(4)
    llm = CachedLLM(EchoLLM(), tmp_path / "c.sqlite")
    reranker = PointwiseReranker(max_length=64)
    # the LLM does best with no passage at all: the tuned threshold keeps none
    quiet = SequenceRewardTask({f"q{n}": {"": 80.0} for n in range(4)})
    threshold, trials = tune_threshold(reranker, dev, Judge(quiet, llm))
    chosen = next(t for t in trials if t["threshold"] == threshold)
    assert chosen["passages"] == 0.0 and chosen["metric"] == 80.0
    assert trials[-1]["threshold"] == float("inf")
    assert trials[0]["passages"] == 3.0  # "keep every candidate, reranked" was tried
    assert [t["passages"] for t in trials] == sorted((t["passages"] for t in trials),
                                                     reverse=True)
    # one passage everywhere beats none: a threshold that keeps passages wins
    eager = SequenceRewardTask({f"q{n}": {"": 0.0, **{s: 60.0 for s in "abc"}}
                                for n in range(4)})
    threshold, trials = tune_threshold(reranker, dev, Judge(eager, llm))
    assert threshold < float("inf")
    assert max(t["metric"] for t in trials) == next(
        t["metric"] for t in trials if t["threshold"] == threshold)
