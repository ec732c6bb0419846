"""Evaluation on hand-made inputs: methods, oracle, token counts, bootstrap, written files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from silver_fakes import EchoLLM, SequenceRewardTask, make_candidates

from ragbridge.evaluation import evaluate_method, paired_bootstrap, top_k_selector
from ragbridge.evaluation_stage import run_evaluation
from ragbridge.jsonl import write_jsonl
from ragbridge.llms import CachedLLM
from ragbridge.rundir import RunDir

REWARDS = {"q0": {"": 10.0, "a|b|c": 20.0, "b": 90.0, "a": 40.0},
           "q1": {"": 50.0, "a|b|c": 0.0, "c|c": 70.0, "a": 30.0}}


def test_methods_score_what_the_llm_saw(tmp_path: Path) -> None:
    items = make_candidates(2)
    llm = CachedLLM(EchoLLM(), tmp_path / "c.sqlite")
    task = SequenceRewardTask(REWARDS)
    none = evaluate_method("none", items, top_k_selector(0), task, llm)
    top1 = evaluate_method("top-1", items, top_k_selector(1), task, llm)
    top_k = evaluate_method("top-K", items, top_k_selector(None), task, llm)
    assert (none.scores, top1.scores, top_k.scores) == ([10, 50], [40, 30], [20, 0])
    assert (none.metric, top1.metric, top_k.metric) == (30, 35, 10)
    assert (none.passages, top1.passages, top_k.passages) == (0, 1, 3)
    assert top_k.prompt_tokens == 1.0  # "q0:a|b|c" is one whitespace word (no tokenizer)


def test_run_evaluation_adds_the_silver_oracle_and_writes_files(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    items = [c.__class__(c.example, c.hits, "test", "fake") for c in make_candidates(3)]
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))
    write_jsonl(run.silver_path("test"), [{"id": "q0", "silver_positions": [1]},
                                          {"id": "q1", "silver_positions": [2, 2]}])
    llm = CachedLLM(EchoLLM(), tmp_path / "c.sqlite")
    results = run_evaluation(run, "test", None, 3, llm, {}, task=SequenceRewardTask(REWARDS))
    by_name = {r.method: r for r in results}
    assert list(by_name) == ["no retrieval", "top-1", "top-3", "silver oracle"]
    assert by_name["silver oracle"].scores == [90, 70]  # q2 has no silver: left out
    assert by_name["silver oracle"].passages == 1.5
    written = json.loads((run.path / "eval-test.json").read_text())
    assert [r["method"] for r in written["results"]] == list(by_name)
    assert (run.path / "eval-test.png").stat().st_size > 0
    assert "| silver oracle | 80.0 | 1.50 |" in (run.path / "eval-test.md").read_text()


def test_paired_bootstrap_interval() -> None:
    mean, low, high = paired_bootstrap([1.0] * 50 + [0.0] * 50, [0.0] * 100)
    assert mean == pytest.approx(0.5)
    assert 0.35 < low < 0.5 < high < 0.65
    same = paired_bootstrap([0.3, 0.7, 0.1], [0.3, 0.7, 0.1])
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_bootstrap_line_compares_the_last_bridge_with_the_best_baseline() -> None:
    from ragbridge.evaluation import MethodResult
    from ragbridge.evaluation_stage import bootstrap_line

    def result(name: str, scores: list[float]) -> MethodResult:
        return MethodResult(name, sum(scores) / len(scores), 1.0, 10.0, 0.0, scores)

    results = [result("no retrieval", [0.0] * 4), result("top-5", [100.0, 0.0, 0.0, 0.0]),
               result("SL bridge", [0.0] * 4), result("SL+RL bridge", [100.0] * 4),
               result("silver oracle", [100.0] * 4)]
    line = bootstrap_line(results, ["SL bridge", "SL+RL bridge"])
    assert line is not None and line.startswith("SL+RL bridge vs best baseline (top-5): +75.0")
    assert bootstrap_line(results, []) is None


def test_run_evaluation_takes_the_reranker_of_another_run(tmp_path: Path) -> None:
    """Bridges and the reranker trained on one retriever's candidates score another's."""
    from ragbridge.jsonl import write_json
    from ragbridge.reranker import PointwiseReranker

    run = RunDir(tmp_path / "toy-bm25")
    items = [c.__class__(c.example, c.hits, "test", "bm25") for c in make_candidates(2)]
    write_jsonl(run.candidates_path, (c.to_dict() for c in items))
    run.record("retrieve", {"dataset": "toy", "retriever": "bm25", "task": "fake"})
    llm = CachedLLM(EchoLLM(), tmp_path / "c.sqlite")
    task = SequenceRewardTask(REWARDS)
    plain = run_evaluation(run, "test", None, 3, llm, {}, task=task)
    assert "point-wise reranker" not in [r.method for r in plain]
    folder = tmp_path / "toy-dense" / "reranker"
    PointwiseReranker(max_length=64).save_pretrained(folder)
    write_json(folder / "threshold.json", {"threshold": -1e9})  # keep all, reranked
    results = run_evaluation(run, "test", None, 3, llm, {}, task=task, reranker=folder)
    reranked = next(r for r in results if r.method == "point-wise reranker")
    assert reranked.passages == 3.0
    written = json.loads((run.path / "eval-test.json").read_text())
    assert written["title"] == "toy, bm25 (test, 2 examples, K=3)"
    assert run.config()["evaluate-test"]["reranker"] == str(folder)
