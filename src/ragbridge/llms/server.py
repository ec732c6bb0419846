"""Serve any ragbridge LLM backend over the OpenAI chat-completions protocol (FastAPI)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel

from ragbridge.llms.base import LLM, GenerationSettings


class Message(BaseModel):
    """One chat message."""

    role: str
    content: str


class ChatRequest(BaseModel):
    """The subset of a chat-completions request that ragbridge backends honour."""

    model: str
    messages: list[Message]
    max_tokens: int | None = 16
    temperature: float | None = 0.0
    stop: list[str] | str | None = None


class CompletionRequest(BaseModel):
    """A completions request; served for prompt scoring: echo + logprobs, max_tokens <= 1."""

    model: str
    prompt: str
    max_tokens: int | None = 16
    temperature: float | None = 0.0
    echo: bool = False
    logprobs: int | None = None


def create_app(llm: LLM, model_name: str) -> Any:
    """A FastAPI app with POST /v1/chat/completions, POST /v1/completions (prompt
    log-probabilities, when the backend has them) and GET /v1/models."""
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="ragbridge LLM server")

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model"}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest) -> dict[str, Any]:
        users = [m.content for m in request.messages if m.role == "user"]
        if not users:
            raise HTTPException(status_code=422, detail="no user message")
        stops = [request.stop] if isinstance(request.stop, str) else (request.stop or [])
        settings = GenerationSettings(max_new_tokens=request.max_tokens or 16,
                                      temperature=request.temperature or 0.0,
                                      stop_at_newline="\n" in stops)
        text = llm.generate([users[-1]], settings)[0]
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
                "created": int(time.time()), "model": model_name,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}]}

    @app.post("/v1/completions")
    def completions(request: CompletionRequest) -> dict[str, Any]:
        scorer = getattr(llm, "prompt_logprobs", None)
        if scorer is None or not request.echo or request.logprobs is None \
                or (request.max_tokens or 0) > 1:
            raise HTTPException(status_code=422, detail="this server answers /v1/completions "
                                "only to score a prompt: echo=true, logprobs set, "
                                "max_tokens 0 or 1, with a backend that has log-probabilities")
        tokens = scorer(request.prompt)
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion",
                "created": int(time.time()), "model": model_name,
                "choices": [{"index": 0, "text": request.prompt, "finish_reason": "length",
                             "logprobs": {"tokens": [t for t, _, _ in tokens],
                                          "text_offset": [o for _, o, _ in tokens],
                                          "token_logprobs": [v for _, _, v in tokens],
                                          "top_logprobs": None}}]}

    return app
