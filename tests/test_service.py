"""The HTTP service, started for real on 127.0.0.1 and called with a real HTTP client.

The bridge is a tiny random one saved to disk (serving mechanics, not quality); the
pipeline test uses real BM25 and the real bundled SmolLM2.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback import running

from ragbridge.bridge import Bridge, BridgeFormat, build_bridge
from ragbridge.bridged_rag import BridgedRAG
from ragbridge.llms import CachedLLM
from ragbridge.retrievers import build_retriever
from ragbridge.service import ServiceSettings, app_for_path, create_app, load_api_keys
from ragbridge.tasks import get_task

PASSAGES = ["The Pacific Ocean is the largest ocean.", "Paris is the capital of France.",
            "Photosynthesis happens in chloroplasts.", "Zürich liegt am Zürichsee — 東京 ✓",
            "The Nile is a long river in Africa."]


class StubSelector:
    """A selector with a known answer: "repeat" -> [2, 0, 2], "nothing" -> [], and
    "number N" -> [N mod count, 0] (each caller can tell its own answer from another's)."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def select_batch(self, queries: list[str], candidate_lists: list[list[Any]]
                     ) -> list[list[int]]:
        self.batches.append(len(queries))
        time.sleep(0.05)  # long enough for concurrent requests to queue up
        chosen = []
        for query, candidates in zip(queries, candidate_lists, strict=True):
            if "repeat" in query:
                chosen.append([2, 0, 2])
            elif "nothing" in query:
                chosen.append([])
            else:
                chosen.append([int(query.split("number ")[1].split()[0]) % len(candidates), 0])
        return chosen


@pytest.fixture(scope="module")
def bridge_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bridge")
    build_bridge("tiny-fid", BridgeFormat(k=5, max_ids=4), seed=3).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Any]]:
    app = create_app(StubSelector(), ServiceSettings(max_batch=8, max_wait_ms=30,
                                                     max_body_bytes=20_000, max_passages=10))
    with running(app) as url:
        yield url, app


def _call(url: str, query: str, passages: list[Any], **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/bridge", json={"query": query, "passages": passages},
                      timeout=30, **kwargs)


def test_bridge_endpoint_returns_the_selectors_sequence(served) -> None:
    url, _ = served
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    assert "/v1/bridge" in httpx.get(f"{url}/openapi.json").json()["paths"]
    response = _call(url, "please repeat", PASSAGES)
    assert response.status_code == 200
    assert response.json()["ids"] == [2, 0, 2]
    assert [p["text"] for p in response.json()["passages"]] == [PASSAGES[2], PASSAGES[0],
                                                                PASSAGES[2]]
    assert [p["id"] for p in response.json()["passages"]] == ["2", "0", "2"]
    assert response.headers["x-request-id"]
    assert _call(url, "nothing helps", PASSAGES).json() == {"ids": [], "passages": []}


def test_a_saved_bridge_folder_is_served(bridge_folder: Path) -> None:
    with running(app_for_path(bridge_folder, ServiceSettings())) as url:
        response = _call(url, "what is the largest ocean", PASSAGES)
    assert response.status_code == 200
    expected = Bridge.from_pretrained(bridge_folder).select(
        "what is the largest ocean", [_passage(n, t) for n, t in enumerate(PASSAGES)])
    assert response.json()["ids"] == expected


def _passage(number: int, text: str) -> Any:
    from ragbridge.records import Passage

    return Passage(str(number), text)


def test_empty_duplicate_and_unicode_passages(served) -> None:
    url, _ = served
    assert _call(url, "anything", []).json() == {"ids": [], "passages": []}
    twice = _call(url, "Zürich 東京 number 1", [PASSAGES[3], PASSAGES[3],
                                               {"text": PASSAGES[3], "id": "z",
                                                "title": "Zürich"}])
    assert twice.status_code == 200
    assert twice.json()["ids"] == [1, 0]
    assert [p["text"] for p in twice.json()["passages"]] == [PASSAGES[3], PASSAGES[3]]
    titled = _call(url, "number 2", [PASSAGES[3], PASSAGES[3],
                                     {"text": PASSAGES[3], "id": "z", "title": "Zürich"}])
    assert titled.json()["passages"][0] == {"id": "z", "title": "Zürich", "text": PASSAGES[3]}


def test_invalid_requests_get_clear_errors(served) -> None:
    url, _ = served
    malformed = httpx.post(f"{url}/v1/bridge", content=b'{"query": "x", "passages": [',
                           headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["error"].startswith(
        "invalid request")
    missing = httpx.post(f"{url}/v1/bridge", json={"passages": ["a"]})
    assert missing.status_code == 422 and "query" in missing.json()["error"]
    empty_text = _call(url, "q", [{"text": ""}])
    assert empty_text.status_code == 422 and "passages.0" in empty_text.json()["error"]
    too_many = _call(url, "q", ["a passage"] * 11)
    assert too_many.status_code == 413
    too_big = _call(url, "q", ["word " * 5000])
    assert too_big.status_code == 413 and "bytes" in too_big.json()["error"]
    no_pipeline = httpx.post(f"{url}/v1/answer", json={"query": "q"})
    assert no_pipeline.status_code == 404


def _read_response(client: socket.socket) -> str:
    """Headers and the whole body (one recv may return the headers alone under load)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            next((line.split(b":")[1] for line in data.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")), b"0")):
        more = client.recv(65536)
        if not more:
            break
        data += more
    return data.decode()


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_read_whole(served) -> None:
    """No Content-Length: the limit holds on the bytes that arrive (raw HTTP/1.1 chunks),
    and the server answers 413 while the client is still sending."""
    from urllib.parse import urlparse

    url, _ = served
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(b"POST /v1/bridge HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b'{"query": "q", "passages": ["' + b"w" * 4000
        for _ in range(10):  # 40 KB in chunks, over the 20 KB limit; never terminated
            client.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        reply = _read_response(client)
    assert reply.startswith("HTTP/1.1 413") and "over 20000 bytes" in reply
    # a chunked body within the limit is served as usual
    small = httpx.post(f"{url}/v1/bridge", timeout=30, headers={"content-type":
                                                                "application/json"},
                       content=iter([b'{"query": "please repeat", ', b'"passages": ' +
                                     json.dumps(PASSAGES).encode() + b"}"]))
    assert small.status_code == 200 and small.json()["ids"] == [2, 0, 2]


def test_more_passages_than_the_bridge_reads_get_422(bridge_folder: Path) -> None:
    """A bridge trained on K candidates never sees candidate K+1: say so, not ignore it."""
    with running(app_for_path(bridge_folder, ServiceSettings())) as url:
        six = _call(url, "what is the largest ocean", PASSAGES + ["one more passage"])
        five = _call(url, "what is the largest ocean", PASSAGES)
    assert six.status_code == 422 and "at most 5 candidates" in six.json()["error"]
    assert five.status_code == 200


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(served) -> None:
    url, app = served
    queries = [f"question number {n}" for n in range(24)]
    batcher = app.state.batchers["bridge"]
    before = len(batcher.batches)
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda q: _call(url, q, PASSAGES).json(), queries))
    assert [answer["ids"] for answer in together] == [[n % 5, 0] for n in range(24)]
    assert max(batcher.batches[before:]) > 1  # concurrent callers shared model calls


def test_a_selector_that_miscounts_gets_500_and_the_server_keeps_serving() -> None:
    class Miscounting(StubSelector):
        def select_batch(self, queries: list[str], candidate_lists: list[list[Any]]
                         ) -> list[list[int]]:
            if any("break" in q for q in queries):
                return []  # one result short: the batch cannot be handed out
            return super().select_batch(queries, candidate_lists)

    with running(create_app(Miscounting())) as url:
        broken = _call(url, "break number 1", PASSAGES)
        assert broken.status_code == 500 and broken.json() == {"error": "internal error"}
        after = _call(url, "question number 3", PASSAGES)  # the worker is still alive
        assert after.status_code == 200 and after.json()["ids"] == [3, 0]


def test_api_keys_are_enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "keys").write_text("# team keys\nfile-key\n")
    monkeypatch.setenv("RAGBRIDGE_API_KEYS", "env-key, other")
    keys = load_api_keys(tmp_path / "keys")
    assert keys == {"env-key", "other", "file-key"}
    with running(create_app(StubSelector(), ServiceSettings(api_keys=keys))) as url:
        assert _call(url, "number 1", PASSAGES).status_code == 401
        assert _call(url, "number 1", PASSAGES, headers={"x-api-key": "wrong"}).status_code == 401
        assert _call(url, "number 1", PASSAGES,
                     headers={"x-api-key": "file-key"}).status_code == 200
        assert _call(url, "number 1", PASSAGES,
                     headers={"authorization": "Bearer env-key"}).status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200


def test_failures_return_500_without_internals() -> None:
    class Broken:
        def select_batch(self, queries: list[str], passages: list[list[Any]]
                         ) -> list[list[int]]:
            raise RuntimeError("secret internal detail /etc/model")

    with running(create_app(Broken())) as url:
        response = _call(url, "q", PASSAGES)
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    assert "secret" not in response.text


def test_answer_endpoint_runs_the_real_pipeline(bridge_folder: Path, tmp_path: Path, smollm2,
                                                small_corpus) -> None:
    bridge = Bridge.from_pretrained(bridge_folder)
    pipeline = BridgedRAG(build_retriever("bm25", small_corpus), bridge,
                          CachedLLM(smollm2, tmp_path / "cache.sqlite"), get_task("qa"), k=3)
    direct = pipeline.answer("what is the largest ocean on earth")
    assert direct.answer and len(direct.candidates) == 3
    assert [direct.candidates[p] for p in direct.positions] == direct.passages
    assert set(direct.timings_ms) == {"retrieve", "select", "llm"}
    with running(create_app(bridge, pipeline=pipeline)) as url:
        body = httpx.post(f"{url}/v1/answer", json={"query": "what is the largest ocean on earth"},
                          timeout=120).json()
    assert body["answer"] == direct.answer  # the cache returns the same LLM output
    assert body["positions"] == direct.positions
