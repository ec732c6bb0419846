"""The README's command chain on a tiny slice, through the real CLI and the real LLM.

data import -> retrieve -> gap -> silver (train, dev, test) -> train-sl -> train-rl (SL+RL
and RL-only) -> train-reranker -> evaluate, each a `ragbridge` command with the README's
options and K set once by `retrieve`. The LLM is the bundled SmolLM2 with a fresh response
cache, so every judgment is really computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragbridge.cli import app

PASSAGES = [
    ("Pacific Ocean", "The Pacific Ocean is the largest and deepest of Earth's five oceanic "
                      "divisions."),
    ("Eiffel Tower", "The Eiffel Tower is a wrought-iron lattice tower in Paris, France."),
    ("Photosynthesis", "Photosynthesis is the process plants use to turn light into chemical "
                       "energy."),
    ("Mount Everest", "Mount Everest is Earth's highest mountain above sea level, in the "
                      "Himalayas."),
    ("Nile", "The Nile is a major river in northeastern Africa, among the longest rivers."),
    ("Telephone", "Alexander Graham Bell was credited with patenting the first practical "
                  "telephone."),
]
QUESTIONS = [
    ("what is the largest ocean", "Pacific", "train"), ("in which city is the eiffel tower",
                                                        "Paris", "train"),
    ("what is the highest mountain", "Everest", "train"), ("which river is in africa",
                                                           "Nile", "train"),
    ("who invented the telephone", "Bell", "train"), ("how do plants make energy",
                                                      "photosynthesis", "train"),
    ("which ocean is the deepest", "Pacific", "dev"), ("where is mount everest", "Himalayas",
                                                       "dev"),
    ("who patented the telephone", "Alexander Graham Bell", "test"),
    ("what tower is in paris", "Eiffel Tower", "test"),
]


def _invoke(runner: CliRunner, *arguments: str) -> str:
    result = runner.invoke(app, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def write_tiny_data(folder: Path, questions: list[tuple[str, str, str]] = QUESTIONS
                    ) -> tuple[Path, Path]:
    """examples.jsonl (the questions, with their splits) and corpus.jsonl in `folder`."""
    examples, corpus = folder / "examples.jsonl", folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"p{n}", "title": t, "text": x}) + "\n"
                              for n, (t, x) in enumerate(PASSAGES)))
    examples.write_text("".join(json.dumps({"id": f"q{n}", "query": q, "answers": [a],
                                            "split": s}) + "\n"
                                for n, (q, a, s) in enumerate(questions)))
    return examples, corpus


@pytest.fixture()
def tiny_data(tmp_path: Path) -> tuple[Path, Path]:
    return write_tiny_data(tmp_path)


def test_readme_chain_runs_end_to_end(tmp_path: Path, tiny_data: tuple[Path, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(tmp_path / "llm-cache.sqlite"))
    runner = CliRunner()
    examples, corpus = tiny_data
    data = tmp_path / "tiny"
    run = str(tmp_path / "runs" / "tiny-bm25")
    llm = ("--llm", "smollm2-fp32")
    _invoke(runner, "data", "import", "--examples", str(examples), "--corpus", str(corpus),
            "--name", "tiny", "--task", "qa", "--out", str(data))
    output = _invoke(runner, "retrieve", "--dataset", str(data), "--retriever", "bm25",
                     "--k", "3", "--run", run)
    assert "K=3" in output
    _invoke(runner, "gap", "--run", run, "--split", "dev", "-n", "2", *llm)
    for split in ("train", "dev", "test"):
        _invoke(runner, "silver", "--run", run, "--split", split, "--max-length", "2", *llm)
    _invoke(runner, "train-sl", "--run", run, "--epochs", "1", "--passage-tokens", "32", *llm)
    model = Path(run) / "bridge-sl" / "model"
    assert (model / "bridge_config.json").exists()
    _invoke(runner, "train-rl", "--run", run, "--iterations", "2", "--rollout-queries", "2",
            "--eval-every", "2", *llm)
    _invoke(runner, "train-rl", "--run", run, "--start", "minilm-fid", "--iterations", "1",
            "--rollout-queries", "2", "--out", f"{run}/bridge-rl-only", *llm)
    _invoke(runner, "train-reranker", "--run", run, *llm)
    output = _invoke(runner, "evaluate", "--run", run, "--bridge", f"SL={model}",
                     "--bridge", f"BGM={run}/bridge-rl/model", *llm)
    report = json.loads((Path(run) / "eval-test.json").read_text())
    methods = [r["method"] for r in report["results"]]
    assert methods == ["no retrieval", "top-1", "top-3", "point-wise reranker", "SL", "BGM",
                       "silver oracle"]
    assert report["comparison"]["method"] == "BGM" and "best baseline" in output
    # every bridge is bootstrapped, not only the last: its mean is the paired difference
    assert [c["method"] for c in report["comparisons"]] == ["SL", "BGM"]
    assert "SL vs best baseline" in output and "BGM vs best baseline" in output
    # the independent reference: answer the test questions through the public pipeline
    # (live retrieval, each selector, the LLM) and score the replies against the gold
    independent = _scores_through_the_pipeline(Path(run), model)
    by_name = {r["method"]: r for r in report["results"]}
    for method, scores in independent.items():
        assert by_name[method]["scores"] == pytest.approx(scores), method
    best = max(["no retrieval", "top-1", "top-3", "point-wise reranker"],
               key=lambda m: sum(independent[m]))
    compared = report["comparisons"][0]
    assert compared["method"] == "SL" and compared["baseline"] == best
    difference = (sum(independent["SL"]) - sum(independent[best])) / len(independent["SL"])
    assert compared["mean"] == pytest.approx(difference, abs=1e-9)
    oracle = report["results"][-1]
    assert oracle["metric"] >= max(r["metric"] for r in report["results"][:3])
    config = json.loads((Path(run) / "config.json").read_text())
    assert config["retrieve"]["k"] == 3 and config["train-sl"]["k"] == 3
    assert {"gap", "silver", "silver-dev", "silver-test", "train-sl", "train-rl:bridge-rl",
            "train-rl:bridge-rl-only", "train-reranker", "evaluate-test"} <= set(config)


def _scores_through_the_pipeline(run: Path, sl_model: Path) -> dict[str, list[float]]:
    """Per test question, in file order: the accuracy of each baseline's and the SL bridge's
    reply, asked through `BridgedRAG` rather than the evaluate stage."""
    from ragbridge.bridge import Bridge
    from ragbridge.bridged_rag import BridgedRAG
    from ragbridge.reranker.model import PointwiseReranker
    from ragbridge.selectors import NoRetrieval, TopK

    pipeline = BridgedRAG.from_run(run, bridge=sl_model, llm_spec="smollm2-fp32")
    test = [(q, a) for q, a, split in QUESTIONS if split == "test"]
    selectors = {"no retrieval": NoRetrieval(), "top-1": TopK(1), "top-3": TopK(3),
                 "point-wise reranker": PointwiseReranker.from_pretrained(run / "reranker"),
                 "SL": Bridge.from_pretrained(sl_model)}
    scores = {}
    for method, selector in selectors.items():
        pipeline.selector = selector
        replies = pipeline.answer_batch([q for q, _ in test])
        scores[method] = [100.0 if answer.lower() in reply.answer.lower() else 0.0
                          for (_, answer), reply in zip(test, replies, strict=True)]
    return scores


def test_demo_rejects_an_unknown_task_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--runs", str(tmp_path / "runs"), "--no-replay",
                                      "--task", "email-subject", "--task", "nq-wiki-open"])
    assert result.exit_code == 2, result.output
    assert "unknown task 'nq-wiki-open'" in result.output
    assert "nq-wiki, email-subject" in result.output
    assert not (tmp_path / "runs").exists()
