"""Evaluation on hand-made inputs: selectors, oracle, token counts, diversity, bootstrap,
written files."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

import pytest
from silver_fakes import EchoLLM, SequenceRewardTask, make_candidates

from ragbridge.evaluation import stage as evaluate_stage
from ragbridge.evaluation.scoring import (
    Diversity,
    MethodResult,
    compare_with_best_baseline,
    evaluate_selector,
    paired_bootstrap,
)
from ragbridge.jsonl import write_jsonl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates
from ragbridge.rundir import RunDir
from ragbridge.selectors import NoRetrieval, SilverOracle, TopK

REWARDS = {"q0": {"": 10.0, "a|b|c": 20.0, "b": 90.0, "a": 40.0},
           "q1": {"": 50.0, "a|b|c": 0.0, "c|c": 70.0, "a": 30.0},
           "q2": {"": 20.0, "a|b|c": 30.0, "a": 60.0}}


def _judge(tmp_path: Path) -> Judge:
    return Judge(SequenceRewardTask(REWARDS), CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))


def test_selectors_are_scored_on_what_the_llm_saw(tmp_path: Path) -> None:
    items = make_candidates(2)
    judge = _judge(tmp_path)
    none = evaluate_selector("none", NoRetrieval(), items, judge, "baseline")
    top1 = evaluate_selector("top-1", TopK(1), items, judge, "baseline")
    top_k = evaluate_selector("top-K", TopK(), items, judge, "baseline")
    assert (none.scores, top1.scores, top_k.scores) == ([10, 50], [40, 30], [20, 0])
    assert (none.metric, top1.metric, top_k.metric) == (30, 35, 10)
    assert (none.passages, top1.passages, top_k.passages) == (0, 1, 3)
    assert top_k.prompt_tokens == 1.0  # "q0:a|b|c" is one whitespace word (no tokenizer)
    assert top_k.positions == [[0, 1, 2], [0, 1, 2]]


def test_diversity_shows_a_collapsed_selector_at_a_glance() -> None:
    constant = Diversity.of([[0]] * 6)
    assert (constant.distinct, constant.first_is_top1, constant.most_common_share) == (1, 100, 100)
    varied = Diversity.of([[1, 0], [], [0], [2, 2], [], [0]])
    assert varied.distinct == 4 and varied.empty == pytest.approx(100 * 2 / 6)
    assert varied.first_is_top1 == pytest.approx(100 * 2 / 6)
    assert varied.mean_length == pytest.approx(6 / 6)
    assert varied.most_common_share == pytest.approx(100 * 2 / 6)


def _test_run(tmp_path: Path, name: str = "run", k: int = 3, count: int = 3) -> RunDir:
    run = RunDir(tmp_path / name)
    items = [Candidates(c.example, c.hits[:k], "test", "fake") for c in make_candidates(count)]
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))
    run.record("retrieve", {"dataset": "toy", "retriever": "bm25", "task": "fake", "k": k})
    return run


def _evaluate(run: RunDir, tmp_path: Path, **config: object) -> evaluate_stage.EvaluationReport:
    task = SequenceRewardTask(REWARDS)
    with patch.object(RunDir, "task", lambda self: task):
        return evaluate_stage.run(run, evaluate_stage.EvaluateConfig(**config),
                                  CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))


def test_evaluate_adds_the_silver_oracle_and_writes_files(tmp_path: Path) -> None:
    run = _test_run(tmp_path)
    write_jsonl(run.silver_path("test"), [{"id": "q0", "silver_positions": [1]},
                                          {"id": "q1", "silver_positions": [2, 2]}])
    report = _evaluate(run, tmp_path, n=2)  # q2 has no silver: evaluate the two searched
    by_name = {r.method: r for r in report.results}
    assert list(by_name) == ["no retrieval", "top-1", "top-3", "silver oracle"]
    assert by_name["silver oracle"].scores == [90, 70]
    assert by_name["silver oracle"].passages == 1.5
    assert by_name["silver oracle"].diversity.distinct == 2
    written = json.loads((run.path / "eval-test.json").read_text())
    assert [r["method"] for r in written["results"]] == list(by_name)
    assert MethodResult.from_dict(written["results"][3]) == by_name["silver oracle"]
    assert (run.path / "eval-test.png").stat().st_size > 0
    markdown = (run.path / "eval-test.md").read_text()
    # EchoLLM has no tokenizer: its lengths are whitespace words, and the table says so
    assert report.length_unit == "words" and written["length_unit"] == "words"
    assert "| method | reward | passages | prompt words | first = top-1 % | empty % | " \
           "distinct |" in markdown
    assert "| silver oracle | 80.0 | 1.50 | 1 | 0 | 0 | 2 |" in markdown
    assert "reranker" not in run.config()["evaluate-test"]  # none was used, none recorded


def test_a_partial_silver_leaves_the_oracle_out_instead_of_shrinking_the_test_set(
        tmp_path: Path) -> None:
    run = _test_run(tmp_path)  # q0, q1, q2; the test silver stopped after q0
    write_jsonl(run.silver_path("test"), [{"id": "q0", "silver_positions": [1]}])
    report = _evaluate(run, tmp_path)
    assert [r.method for r in report.results] == ["no retrieval", "top-1", "top-3"]
    assert all(len(r.scores) == 3 for r in report.results)  # every example, every method
    assert "silver oracle left out: silver-test.jsonl covers 1 of the 3 examples" in (
        run.path / "eval-test.md").read_text()


def test_oracle_positions_beyond_the_evaluated_k_are_a_clear_error(tmp_path: Path) -> None:
    run = _test_run(tmp_path, k=2)
    write_jsonl(run.silver_path("test"), [{"id": "q0", "silver_positions": [2]}])
    with pytest.raises(ValueError, match="names candidate 3, but only 2 are evaluated"):
        _evaluate(run, tmp_path, n=1)
    with pytest.raises(ValueError, match="larger K"):
        SilverOracle.from_records(run.candidates("test"), [{"id": "q0",
                                                             "silver_positions": [0, 5]}])


def test_paired_bootstrap_interval() -> None:
    mean, low, high = paired_bootstrap([1.0] * 50 + [0.0] * 50, [0.0] * 100)
    assert mean == pytest.approx(0.5)
    assert 0.35 < low < 0.5 < high < 0.65
    same = paired_bootstrap([0.3, 0.7, 0.1], [0.3, 0.7, 0.1])
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def _result(name: str, kind: str, scores: list[float]) -> MethodResult:
    return MethodResult(name, kind, sum(scores) / len(scores), 1.0, 10.0, 0.0,  # type: ignore
                        Diversity.of([[0]]), scores)


def test_the_best_baseline_is_found_by_kind_not_by_name() -> None:
    results = [_result("no retrieval", "baseline", [0.0] * 4),
               _result("top-5", "baseline", [100.0, 0.0, 0.0, 0.0]),
               _result("top-secret bridge", "bridge", [100.0, 100.0, 0.0, 0.0]),
               _result("SL+RL bridge", "bridge", [100.0] * 4),
               _result("silver oracle", "oracle", [100.0] * 4)]
    comparison = compare_with_best_baseline(results, "SL+RL bridge")
    assert comparison.baseline == "top-5"  # a bridge named "top-..." is no baseline
    assert comparison.line().startswith("SL+RL bridge vs best baseline (top-5): +75.0")


def test_evaluate_takes_the_reranker_of_another_run(tmp_path: Path) -> None:
    """Bridges and the reranker trained on one retriever's candidates score another's."""
    from ragbridge.reranker.model import PointwiseReranker

    run = _test_run(tmp_path, "toy-bm25", count=2)
    plain = _evaluate(run, tmp_path)
    assert "point-wise reranker" not in [r.method for r in plain.results]
    folder = tmp_path / "toy-dense" / "reranker"
    PointwiseReranker(max_length=64, threshold=-1e9).save_pretrained(folder)  # keep all
    report = _evaluate(run, tmp_path, reranker=folder)
    reranked = next(r for r in report.results if r.method == "point-wise reranker")
    assert reranked.passages == 3.0 and reranked.kind == "baseline"
    assert report.title == "toy, bm25 (test, 2 examples, K=3)"
    assert run.config()["evaluate-test"]["reranker"] == str(folder)


def test_a_trained_reranker_that_is_missing_is_an_error_not_a_missing_row(
        tmp_path: Path) -> None:
    run = _test_run(tmp_path, count=2)
    run.record("train-reranker", {"out": str(run.reranker_path), "threshold": 0.0})
    with pytest.raises(FileNotFoundError, match="missing though `train-reranker` ran"):
        _evaluate(run, tmp_path)


def test_qa_runs_are_also_reported_on_the_answerable_examples(tmp_path: Path) -> None:
    from ragbridge.records import Hit, Passage

    run = _test_run(tmp_path, count=2)
    items = run.candidates("test")
    answering = Passage("b", "the answer is x here")  # q1 can find its answer "x"
    items[1] = Candidates(items[1].example, (items[1].hits[0], Hit(answering, 1.0, 2),
                                             items[1].hits[2]), "test", "fake")
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))
    report = _evaluate(run, tmp_path)
    assert report.answerable is not None
    by_name = {r.method: r for r in report.answerable}
    assert by_name["top-1"].scores == [30.0] and by_name["top-1"].metric == 30.0
    assert by_name["no retrieval"].scores == [50.0]
    assert "the 1 answerable" in (run.path / "eval-test.md").read_text()


def test_the_comparison_says_how_much_of_the_gap_to_the_oracle_is_closed() -> None:
    results = [_result("top-5", "baseline", [100.0, 0.0, 0.0, 0.0]),   # 25
               _result("BGM", "bridge", [100.0, 100.0, 0.0, 0.0]),      # 50
               _result("silver oracle", "oracle", [100.0, 100.0, 100.0, 0.0])]  # 75
    comparison = compare_with_best_baseline(results, "BGM")
    assert comparison.gap_closed == pytest.approx(50.0)  # (50 - 25) / (75 - 25)
    assert comparison.line().endswith("closes 50% of the gap from the best baseline to "
                                      "the oracle")
    assert compare_with_best_baseline(results[:2], "BGM").gap_closed is None  # no oracle
