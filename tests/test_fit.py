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
    """The real backend, one request at a time, remembering every prompt it generated for."""

    def __init__(self, backend: Any) -> None:
        self.backend, self.prompts = backend, []
        self.identity = backend.identity
        self._lock = threading.Lock()

    def generate(self, prompts: list[str], settings: Any) -> list[str]:
        with self._lock:
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
    assert output.index("LLM requests:") < output.index("SL+RL (BGM) vs best baseline")
    # every judgment was asked once, across the stop, the refusal and the resume
    assert max(Counter(counting.prompts).values()) == 1
    report = json.loads((run / "eval-test.json").read_text())
    assert [r["method"] for r in report["results"]] == [
        "no retrieval", "top-1", "top-3", "point-wise reranker", "SL+RL (BGM)",
        "silver oracle"]
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
