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


def create_app(llm: LLM, model_name: str) -> Any:
    """A FastAPI app with POST /v1/chat/completions and GET /v1/models."""
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

    return app
