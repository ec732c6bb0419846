"""`ragbridge fit` then `ragbridge serve`, the README's lines for one's own data, against a
real OpenAI-compatible server on 127.0.0.1 (ragbridge's own, over the bundled SmolLM2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import free_port, running
from test_cli_chain import QUESTIONS, write_tiny_data
from typer.testing import CliRunner

from ragbridge.cli import app
from ragbridge.llms.server import create_app


class CountingLLM:
    """The real backend, one request at a time, remembering every prompt it generated for;
    after `answers_left` replies (None: never) it fails every request, as a dying server."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.prompts = backend, []
        self.identity = backend.identity
        self.answers_left: int | None = None
        self._lock = threading.Lock()

    def generate(self, prompts: list[str], settings: Any) -> list[str]:
        with self._lock:
            if self.answers_left is not None:
                if self.answers_left < len(prompts):
                    raise RuntimeError("the server is going down")
                self.answers_left -= len(prompts)
            self.prompts += list(prompts)
            return self.backend.generate(prompts, settings)


@pytest.fixture()
def counted_server(smollm2) -> Iterator[tuple[str, CountingLLM]]:
    counting = CountingLLM(smollm2)
    with running(create_app(counting, "smollm2")) as url:
        yield f"{url}/v1", counting


def _fit(runner: CliRunner, *arguments: str) -> Any:
    return runner.invoke(app, ["fit", *arguments], catch_exceptions=False)


def _serve(run: Path, environment: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ragbridge.cli", "serve", str(run),
                                "--port", str(port)], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read() if process.stdout else "died")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_fit_then_serve_on_a_served_llm_resumes_after_its_call_limit(
        tmp_path: Path, counted_server: tuple[str, CountingLLM],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, counting = counted_server
    cache = tmp_path / "llm-cache.sqlite"
    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(cache))
    examples, corpus = write_tiny_data(tmp_path, QUESTIONS)
    run = tmp_path / "runs" / "mine"
    line = ["--examples", str(examples), "--corpus", str(corpus), "--task", "qa",
            "--llm", "openai:smollm2", "--base-url", url, "--run", str(run), "--k", "3",
            "--sl-epochs", "1", "--rl-iterations", "2"]
    runner = CliRunner()

    stopped = _fit(runner, *line, "--max-llm-calls", "8")
    assert stopped.exit_code == 4, stopped.output
    assert "limit of 8 LLM calls" in stopped.output and "rerun" in stopped.output
    assert len(counting.prompts) == 8  # the limit is exact (the calibration within it)

    changed = _fit(runner, *[v if v != "3" else "4" for v in line])
    assert changed.exit_code == 2 and "k: 3 -> 4" in changed.output

    finished = _fit(runner, *line)
    assert finished.exit_code == 0, finished.output
    output = finished.output  # the estimate comes first, the table last
    assert output.index("LLM requests:") < output.index("RL-only vs best baseline")
    # every judgment was asked once, across the stop, the refusal and the resume
    assert max(Counter(counting.prompts).values()) == 1
    report = json.loads((run / "eval-test.json").read_text())
    assert [r["method"] for r in report["results"]] == [
        "no retrieval", "top-1", "top-3", "point-wise reranker", "RL-only",
        "silver oracle"]  # the default chain, RL-only: one bridge, no SL stage
    # the estimate against what each stage really asked the server
    measured = json.loads((run / "fit-measured.json").read_text())
    stages = {s["stage"]: s for s in measured["estimate"]["stages"]}
    for split in ("train", "dev", "test"):
        asked = measured["measured"][f"silver {split}"]["calls"]
        bounds = stages[f"silver {split}"]
        assert bounds["generations_min"] <= asked <= bounds["generations_max"], split
    for stage, asked in measured["measured"].items():  # every stage within its bound
        bound = sum(s["generations_max"] for s in stages.values() if s["fit_stage"] == stage)
        assert asked["calls"] <= bound, stage
    total = sum(m["calls"] for m in measured["measured"].values())
    assert total <= measured["estimate"]["totals"]["generations_max"]
    assert total == len(counting.prompts) - 8  # this invocation's requests, all counted

    # `ragbridge serve RUN`, as it is: the fitted bridge, the run's retriever and its LLM
    environment = {**os.environ, "RAGBRIDGE_LLM_CACHE": str(cache),
                   "PYTHONPATH": os.pathsep.join(sys.path)}
    for served in _serve(run, environment):
        reply = httpx.post(f"{served}/v1/answer", json={"query": "who invented the telephone"},
                           timeout=120)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert isinstance(body["answer"], str) and set(body["positions"]) <= {0, 1, 2}
        assert [p["id"] for p in body["candidates"]][:1] == ["p5"]  # BM25: the telephone


def test_fit_refuses_a_split_too_small_to_select_on(tmp_path: Path) -> None:
    examples, corpus = write_tiny_data(tmp_path, [(q, a, "train" if s == "dev" else s)
                                              for q, a, s in QUESTIONS])
    result = _fit(CliRunner(), "--examples", str(examples), "--corpus", str(corpus),
                  "--run", str(tmp_path / "run"), "--llm", "smollm2-fp32")
    assert result.exit_code == 2
    assert "too few examples to fit: dev has 0 (needs 1)" in result.output
    assert str(examples) in result.output


def test_fit_keeps_every_judgment_when_the_endpoint_dies_mid_silver(
        tmp_path: Path, counted_server: tuple[str, CountingLLM],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, counting = counted_server
    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(tmp_path / "llm-cache.sqlite"))
    examples, corpus = write_tiny_data(tmp_path, QUESTIONS)
    run = tmp_path / "run"
    line = ["--examples", str(examples), "--corpus", str(corpus), "--llm", "openai:smollm2",
            "--base-url", url, "--run", str(run), "--k", "3", "--chain", "sl",
            "--sl-epochs", "1"]
    counting.answers_left = 10  # the calibration's 4, then 6 of the train silver search
    died = _fit(CliRunner(), *line)
    assert died.exit_code == 3, died.output
    assert "LLM failed" in died.output and "rerun the same command" in died.output
    assert len(counting.prompts) == 10 and not (run / "eval-test.json").exists()
    counting.answers_left = None  # the server is back
    resumed = _fit(CliRunner(), *line)
    assert resumed.exit_code == 0, resumed.output
    assert max(Counter(counting.prompts).values()) == 1  # the 10 answers were kept
    assert (run / "eval-test.json").exists()


def test_a_likelihood_utility_on_an_endpoint_without_logprobs_suggests_metric(
        tmp_path: Path, counted_server: tuple[str, CountingLLM],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers chats but not prompt scoring (its backend has no log-probabilities):
    refused before any reply is asked for, naming the way out."""
    from ragbridge.llms.hf import smollm2_folder

    url, counting = counted_server
    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(tmp_path / "llm-cache.sqlite"))
    monkeypatch.setenv("RAGBRIDGE_LLM_TOKENIZER", str(smollm2_folder()))  # a chat template
    examples, corpus = write_tiny_data(tmp_path, QUESTIONS)
    result = _fit(CliRunner(), "--examples", str(examples), "--corpus", str(corpus),
                  "--llm", "openai:smollm2", "--base-url", url, "--run", str(tmp_path / "run"),
                  "--k", "3", "--utility", "likelihood")
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "--utility likelihood needs the LLM's prompt log-probabilities" in output
    assert "use --utility metric" in output and counting.prompts == []


def _given_candidates(folder: Path) -> Path:
    """Each question's candidates from 'a search API': the tiny corpus, rotated per
    question, four of them (scores descending)."""
    from test_cli_chain import PASSAGES

    lines = []
    for n in range(len(QUESTIONS)):
        listed = [{"id": f"p{(n + j) % len(PASSAGES)}",
                   "title": PASSAGES[(n + j) % len(PASSAGES)][0],
                   "text": PASSAGES[(n + j) % len(PASSAGES)][1], "score": 4.0 - j}
                  for j in range(4)]
        lines.append(json.dumps({"id": f"q{n}", "candidates": listed}) + "\n")
    path = folder / "given.jsonl"
    path.write_text("".join(lines))
    return path


def test_fit_on_candidates_retrieved_elsewhere_serves_the_bridge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--candidates instead of a corpus and a retriever: the run's candidates are the file's
    first K in its order, the chain trains on them, and serving the run answers /v1/bridge
    (the caller sends passages) while /v1/answer says why it cannot retrieve."""
    from ragbridge.service import ServiceSettings, app_for_path

    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(tmp_path / "llm-cache.sqlite"))
    examples, _ = write_tiny_data(tmp_path, QUESTIONS)
    given = _given_candidates(tmp_path)
    run = tmp_path / "run"
    result = _fit(CliRunner(), "--examples", str(examples), "--candidates", str(given),
                  "--llm", "smollm2-fp32", "--run", str(run), "--k", "3", "--chain", "sl",
                  "--sl-epochs", "1")
    assert result.exit_code == 0, result.output
    expected = {json.loads(line)["id"]: [c["id"] for c in json.loads(line)["candidates"][:3]]
                for line in given.read_text().splitlines()}
    kept = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    assert {r["example"]["id"]: [c["id"] for c in r["candidates"]] for r in kept} == expected
    assert (run / "eval-test.json").exists()
    with running(app_for_path(run, ServiceSettings())) as url:
        passages = [{"id": f"x{i}", "text": text} for i, text in
                    enumerate(["Bell patented the telephone.", "Paris has a tower.",
                               "The Nile is long."])]
        chosen = httpx.post(f"{url}/v1/bridge", json={"query": "who patented the telephone",
                                                      "passages": passages}, timeout=60)
        assert chosen.status_code == 200 and set(chosen.json()["ids"]) <= {0, 1, 2}
        refused = httpx.post(f"{url}/v1/answer", json={"query": "who patented it"})
        assert refused.status_code == 404 and "/v1/bridge" in refused.json()["error"]


def test_given_candidates_with_problems_are_named_by_line(tmp_path: Path) -> None:
    from ragbridge.jsonl import InputError
    from ragbridge.retrievers.given import read_given_candidates

    path = tmp_path / "given.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "q0", "candidates": [{"id": "p0", "text": "fine"}]}),
        json.dumps({"id": "q1", "candidates": [{"id": "p1", "text": ""}]}),
        json.dumps({"id": "q0", "candidates": []}),
        json.dumps({"id": "q2", "candidates": "p0"}),
        json.dumps({"id": "q3", "candidates": [{"id": "p3", "text": "t", "score": "high"}]}),
    ]) + "\n")
    with pytest.raises(InputError) as raised:
        read_given_candidates(path)
    message = str(raised.value)
    assert f"{path}:2: candidate 1: passage 'p1' needs a non-empty string 'text'" in message
    assert f"{path}:3: example 'q0' already has candidates on line 1" in message
    assert f"{path}:4: 'candidates' must be a list" in message
    assert f"{path}:5: candidate 1: 'score' must be a number" in message
    assert f"{path}:1:" not in message


def test_fit_on_a_bundled_data_set_estimates_from_its_own_examples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fit --dataset email-subject`: the bundled data set's own splits and task, no copy of
    it in the run; a task that is not its own, or files beside it, are refused."""
    from ragbridge.jsonl import read_jsonl
    from ragbridge.paths import dataset_dir

    monkeypatch.setenv("RAGBRIDGE_LLM_CACHE", str(tmp_path / "cache.sqlite"))
    run = tmp_path / "run"
    wrong = _fit(CliRunner(), "--dataset", "email-subject", "--task", "qa", "--run", str(run))
    assert wrong.exit_code == 2
    assert "the email-subject data set's task is email-subject, not qa" in wrong.output
    both = _fit(CliRunner(), "--dataset", "nq-wiki", "--examples", str(tmp_path / "x.jsonl"),
                "--run", str(run))
    assert both.exit_code == 2 and "give --dataset or --examples, not both" in both.output

    result = _fit(CliRunner(), "--dataset", "email-subject", "--run", str(run), "--dry-run",
                  "--train-n", "4", "--dev-n", "2", "--test-n", "2", "--llm", "smollm2-fp32")
    assert result.exit_code == 0, result.output
    assert not (run / "data").exists()
    recorded = json.loads((run / "config.json").read_text())
    assert recorded["fit"]["task"] == "email-subject"
    assert recorded["retrieve"]["dataset"] == "email-subject"
    test_ids = [e["id"] for e in read_jsonl(dataset_dir("email-subject") / "test.jsonl")]
    retrieved = [r["example"]["id"] for r in read_jsonl(run / "candidates.jsonl")
                 if r["split"] == "test"]
    assert retrieved == test_ids
    estimate = json.loads((run / "fit-estimate.json").read_text())
    assert estimate["calibrated_on"] == 3 and estimate["length_unit"] == "tokens"
    train = next(s for s in estimate["stages"] if s["stage"] == "silver train")
    first = [r for r in read_jsonl(run / "candidates.jsonl") if r["split"] == "train"][:4]
    # the empty prompt and each candidate alone (metric utility) of the 4 train emails (a
    # sender with few other emails has fewer than 5), less the 4 empty prompts the
    # calibration already put in the cache
    assert train["generations_min"] == sum(1 + len(r["candidates"]) for r in first) - 4
