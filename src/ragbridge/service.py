"""`ragbridge serve`: the bridge (and optionally the whole pipeline) over HTTP (FastAPI).

- `POST /v1/bridge`: query + passages -> the ordered passage ids (0-based positions) and
  passages the LLM should see.
- `POST /v1/answer`: query -> the pipeline's answer, the passages used and timings (only
  when served from a run directory, which has a retriever and an LLM).
- `GET /health`; OpenAPI docs at `/docs`.

Concurrent requests are batched: a background task collects up to `max_batch` pending calls,
waiting at most `max_wait_ms` after the first, and runs them as one model call in a worker
thread. Optional API keys (`Authorization: Bearer KEY` or `X-API-Key: KEY`) come from
`RAGBRIDGE_API_KEYS` (comma-separated) or a file (one per line). Bodies above
`max_body_bytes` get 413 (chunked ones too: the body is read only up to the limit); invalid
requests get 422 with the offending field, as do more passages than a bridge reads (its K);
any other failure gets a 500 without internals, and every request is logged as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ragbridge.records import Passage
from ragbridge.selectors import Selector

if TYPE_CHECKING:
    from ragbridge.bridged_rag import BridgedRAG

LOG = logging.getLogger("ragbridge.service")
Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class ServiceSettings:
    """Limits, batching and auth of the HTTP service."""

    max_batch: int = 16
    max_wait_ms: float = 10.0
    max_body_bytes: int = 1_000_000
    max_passages: int = 100
    max_passage_chars: int = 20_000
    api_keys: frozenset[str] = frozenset()


def load_api_keys(file: Path | None = None) -> frozenset[str]:
    """Keys from `RAGBRIDGE_API_KEYS` (comma-separated) and `file` (one per line, # comments)."""
    keys = {k.strip() for k in os.environ.get("RAGBRIDGE_API_KEYS", "").split(",")}
    if file is not None:
        keys |= {line.strip() for line in Path(file).read_text().splitlines()
                 if not line.strip().startswith("#")}
    return frozenset(k for k in keys if k)


class Microbatcher(Generic[Item, Result]):
    """Collects concurrent calls into batches for one blocking batched function."""

    def __init__(self, run: Callable[[list[Item]], list[Result]], max_batch: int,
                 max_wait_ms: float) -> None:
        self.run = run
        self.max_batch = max(max_batch, 1)
        self.max_wait = max_wait_ms / 1000.0
        self.queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]]] | None = None
        self.batches: list[int] = []  # sizes of the batches run (for tests and stats)
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait for its result."""
        if self.queue is None:
            self.queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._loop())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        await self.queue.put((item, future))
        return await future

    async def _loop(self) -> None:
        assert self.queue is not None
        while True:
            first = await self.queue.get()
            pending = [first]
            deadline = time.monotonic() + self.max_wait
            while len(pending) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    pending.append(await asyncio.wait_for(self.queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            self.batches.append(len(pending))
            try:
                results = await asyncio.to_thread(self.run, [item for item, _ in pending])
                if len(results) != len(pending):
                    raise RuntimeError(f"a batch of {len(pending)} got {len(results)} results")
            except Exception as error:  # every caller of the batch gets the failure (500);
                for _, future in pending:  # the worker itself keeps serving later batches
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(pending, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        """Stop the background worker."""
        if self._worker is not None:
            self._worker.cancel()


class PassageIn(BaseModel):
    """A candidate passage: text, with optional id and title."""

    text: str = Field(min_length=1)
    id: str | None = None
    title: str = ""


class BridgeRequest(BaseModel):
    """Query and candidate passages (in retriever order)."""

    query: str = Field(min_length=1)
    passages: list[PassageIn | Annotated[str, Field(min_length=1)]]


class BridgeResponse(BaseModel):
    """The sequence the LLM should see: 0-based positions into `passages`, and the passages."""

    ids: list[int]
    passages: list[PassageIn]


class AnswerRequest(BaseModel):
    """A query for the whole pipeline (group: e.g. the email author)."""

    query: str = Field(min_length=1)
    group: str | None = None


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets 413, whether it declares its
    length or arrives chunked (the body is read up to the limit, never whole)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any],
                       send: Callable[[dict[str, Any]], Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(receive, message), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(receive, body), send)

    async def _refuse(self, scope: dict[str, Any], receive: Callable[[], Any],
                      send: Callable[[dict[str, Any]], Any]) -> None:
        from fastapi.responses import JSONResponse

        response = JSONResponse(status_code=413,
                                content={"error": f"request body over {self.limit} bytes"})
        await response(scope, receive, send)


def _replay(receive: Callable[[], Any], first: dict[str, Any]) -> Callable[[], Any]:
    """An ASGI `receive` that gives `first` (the buffered body) once, then the client's own
    messages (its disconnect)."""
    pending = [first]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


def _passages(request: BridgeRequest) -> list[Passage]:
    out = []
    for n, item in enumerate(request.passages):
        if isinstance(item, str):
            item = PassageIn(text=item)
        out.append(Passage(item.id or str(n), item.text, item.title))
    return out


def create_app(selector: Selector, settings: ServiceSettings = ServiceSettings(),
               pipeline: BridgedRAG | None = None, name: str = "bridge") -> Any:
    """The FastAPI app around any `Selector` (and optionally a whole pipeline).

    Model calls run one at a time in a worker thread (the selector and the pipeline may
    share a model), each on a micro-batch of concurrent requests.
    """
    import threading
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        yield
        for batcher in (bridge_batcher, answer_batcher):
            if batcher is not None:
                await batcher.close()

    app = FastAPI(title="ragbridge", description="BGM bridge between a retriever and an LLM",
                  lifespan=lifespan)
    lock = threading.Lock()
    reads: int | None = getattr(selector, "max_candidates", None)  # a bridge's K

    def select(items: list[tuple[str, list[Passage]]]) -> list[list[int]]:
        with lock:
            return selector.select_batch([q for q, _ in items], [p for _, p in items])

    def answer_batch(items: list[tuple[str, str | None]]) -> list[Any]:
        assert pipeline is not None
        with lock:
            return pipeline.answer_batch([q for q, _ in items], [g for _, g in items])

    bridge_batcher: Microbatcher[tuple[str, list[Passage]], list[int]] = Microbatcher(
        select, settings.max_batch, settings.max_wait_ms)
    answer_batcher = Microbatcher(answer_batch, settings.max_batch,
                                  settings.max_wait_ms) if pipeline is not None else None
    app.state.batchers = {"bridge": bridge_batcher, "answer": answer_batcher}

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse(status_code=status, content={"error": message})

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Any:
        request_id = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        response = await _guarded(request, call_next)
        LOG.info(json.dumps({"request": request_id, "method": request.method,
                             "path": request.url.path, "status": response.status_code,
                             "ms": round(1000 * (time.perf_counter() - started), 1)}))
        response.headers["X-Request-Id"] = request_id
        return response

    async def _guarded(request: Request, call_next: Callable[[Request], Any]) -> Any:
        if settings.api_keys and request.url.path.startswith("/v1/"):
            given = request.headers.get("x-api-key") or request.headers.get(
                "authorization", "").removeprefix("Bearer ").strip()
            if not any(secrets.compare_digest(given, key) for key in settings.api_keys):
                return error(401, "missing or invalid API key")
        try:
            return await call_next(request)
        except Exception:  # never leak internals to the client
            LOG.exception("request failed")
            return error(500, "internal error")

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outermost: before any read

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                    for e in exc.errors()]
        return error(422, "invalid request: " + "; ".join(problems))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": name, "answer": pipeline is not None}

    @app.post("/v1/bridge", response_model=BridgeResponse)
    async def bridge(request: BridgeRequest) -> Any:
        passages = _passages(request)
        if reads is not None and len(passages) > reads:
            return error(422, f"{len(passages)} passages: this bridge reads at most {reads} "
                              "candidates (the K it was trained on); send the retriever's "
                              f"first {reads}")
        if len(passages) > settings.max_passages:
            return error(413, f"{len(passages)} passages; at most {settings.max_passages}")
        if any(len(p.text) > settings.max_passage_chars for p in passages):
            return error(413, f"a passage is over {settings.max_passage_chars} characters")
        ids = await bridge_batcher.submit((request.query, passages)) if passages else []
        return {"ids": ids, "passages": [{"id": passages[i].id, "title": passages[i].title,
                                          "text": passages[i].text} for i in ids]}

    @app.post("/v1/answer")
    async def answer(request: AnswerRequest) -> Any:
        if answer_batcher is None:
            return error(404, "this server has no pipeline (a bridge folder, or a run fitted "
                              "on given candidates): send the query and its passages to "
                              "/v1/bridge, or serve a run with a retriever for /v1/answer")
        result = await answer_batcher.submit((request.query, request.group))
        return result.to_dict()

    return app


def app_for_path(path: Path, settings: ServiceSettings, llm_spec: str | None = None) -> Any:
    """A run directory (bridge + pipeline) or a bridge folder (bridge only)."""
    from ragbridge.bridge import Bridge

    if (path / "bridge_config.json").exists():
        return create_app(Bridge.from_pretrained(path), settings, name=str(path))
    from ragbridge.bridged_rag import BridgedRAG, best_bridge_folder
    from ragbridge.retrievers.given import PREFIX
    from ragbridge.rundir import RunDir

    if RunDir(path).settings().retriever.startswith(PREFIX):  # no retriever for new queries
        LOG.info("%s was fitted on given candidates: serving /v1/bridge only (send the "
                 "query and its passages)", path)
        folder = best_bridge_folder(path)
        return create_app(Bridge.from_pretrained(folder), settings, name=str(folder))
    pipeline = BridgedRAG.from_run(path, llm_spec=llm_spec)
    return create_app(pipeline.selector, settings, pipeline,
                      name=str(best_bridge_folder(path)))
