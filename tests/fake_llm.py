"""A fake OpenAI-compatible chat-completions server, served over real HTTP by the tests.

Each test sets how it behaves: the reply (text, or a function of the numbered source
sentences in the prompt), an HTTP status, a delay, or a body that is not a completion.
"""
from __future__ import annotations

import asyncio
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from conftest import LiveServer

SOURCE_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)
Reply = str | Callable[[list[str]], str]


@dataclass
class Behaviour:
    """What the fake does with the next requests."""

    reply: Reply = "Jawaban [1]."
    status: int = 200
    delay_s: float = 0.0
    raw_body: str | None = None  # sent as-is instead of a completion (malformed replies)
    chunk_chars: int = 4  # streaming: characters per delta


@dataclass
class FakeLLM:
    """The fake's address and what it received."""

    url: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)

    def set(self, **kwargs) -> None:
        """Behave as `Behaviour(**kwargs)` from now on and forget earlier requests."""
        self.behaviour = Behaviour(**kwargs)
        self.requests.clear()
        self.headers.clear()


def sources_of(body: dict) -> list[str]:
    """The numbered sentences [1]..[k] from the prompt's user message."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return [text for _, text in SOURCE_LINE.findall(user)]


def build_app(fake: FakeLLM) -> FastAPI:
    """The fake endpoint: POST /v1/chat/completions (plain or streamed), GET /healthz."""
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        fake.requests.append(body)
        fake.headers.append(dict(request.headers))
        b = fake.behaviour
        await asyncio.sleep(b.delay_s)
        if b.status != 200:
            return JSONResponse({"error": {"message": "boom"}}, status_code=b.status)
        if b.raw_body is not None:
            return PlainTextResponse(b.raw_body, media_type="application/json")
        text = b.reply(sources_of(body)) if callable(b.reply) else b.reply
        if body.get("stream"):
            return StreamingResponse(_chunks(text, b.chunk_chars), media_type="text/event-stream")
        return {"id": "fake", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}]}

    return app


async def _chunks(text: str, size: int):
    head = {"id": "fake", "object": "chat.completion.chunk", "model": "fake"}
    yield f"data: {json.dumps({**head, 'choices': [{'index': 0, 'delta': {'role': 'assistant'}}]})}\n\n"
    for i in range(0, len(text), size):
        delta = {"index": 0, "delta": {"content": text[i:i + size]}, "finish_reason": None}
        yield f"data: {json.dumps({**head, 'choices': [delta]})}\n\n"
        await asyncio.sleep(0)
    yield f"data: {json.dumps({**head, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
    yield "data: [DONE]\n\n"


@contextmanager
def serve_fake() -> Iterator[FakeLLM]:
    """A running fake; `.url` is its base URL up to /v1."""
    fake = FakeLLM()
    with LiveServer(build_app(fake)) as server:
        fake.url = server.url + "/v1"
        yield fake
