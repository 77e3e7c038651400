"""OpenAI-compatible chat completions, so stock OpenAI clients and chat front-ends can ask questions.

The last user message is the question; the reply's content is the cited answer, and the rest of the
/api/chat response (`citations`, `abstained`, `language`, `mode`, ...) rides along in extra top-level
fields that OpenAI clients ignore.
Errors on these routes use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException  # FastAPI raises Starlette's (unparseable body); this catches both

from index.errors import StoreError, StoreUnavailable
from qa.errors import InvalidQuestion, NoIndex
from web.routes import service_of
from web.schemas import ChatResponse, lone_surrogate
from web.security import public_detail, require_api_key

MODEL_ID = "qa"
OWNER = "qa-indonesia"
CREATED = int(time.time())  # models have no real creation date; the server's start is honest enough
USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}  # tokens aren't counted here


class OpenAIError(Exception):
    """An error to send in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers

    def response(self) -> JSONResponse:
        """The JSON error response."""
        body = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def from_validation(exc: RequestValidationError) -> OpenAIError:
    """A 400 naming the first bad field, as OpenAI reports bad parameters."""
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return OpenAIError(400, "We could not parse the JSON body of your request.")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "missing":
        return OpenAIError(400, f"Missing required parameter: '{param}'.", param=param,
                           code="missing_required_parameter")
    where = f"'{param}': " if param else ""
    return OpenAIError(400, f"Invalid value for {where}{first.get('msg', 'invalid request')}", param=param)


class OpenAIRoute(APIRoute):
    """A route whose errors, request validation included, use OpenAI's shape instead of the app's."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return from_validation(exc).response()
            except OpenAIError as exc:
                return exc.response()
            except HTTPException as exc:  # from dependencies, e.g. the API-key check
                code = "invalid_api_key" if exc.status_code == 401 else None
                return OpenAIError(exc.status_code, str(exc.detail), code=code, headers=exc.headers).response()
            except InvalidQuestion as exc:
                return OpenAIError(400, str(exc), param="messages").response()
            except (NoIndex, StoreError) as exc:
                code = "database_unavailable" if isinstance(exc, StoreUnavailable) else "no_index"
                return OpenAIError(503, public_detail(str(exc)), type="server_error", code=code).response()

        return route


router = APIRouter(prefix="/v1", route_class=OpenAIRoute, tags=["openai"])


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape, declared so the OpenAPI document matches what these routes send."""

    error: ErrorDetail


NOT_FOUND = {404: {"model": ErrorBody, "description": "no such model (this server serves `qa`)"}}
ERRORS = {400: {"model": ErrorBody, "description": "invalid request, validation errors included"},
          401: {"model": ErrorBody, "description": "QA_API_KEY is set and the request lacks it"},
          503: {"model": ErrorBody, "description": "no index loaded"}, **NOT_FOUND}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")  # image_url, input_audio, ...: accepted, not read

    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class CompletionRequest(BaseModel):
    # Sampling knobs (temperature, max_tokens, stop, ...) mean nothing to an extractive answerer;
    # like other OpenAI-compatible servers we ignore them rather than break clients that always send them.
    # Strict, as /api/chat: `"stream": "yes"` or `"top_k": "3"` is a client bug to report, not to coerce.
    model_config = ConfigDict(extra="allow", strict=True)

    model: str
    messages: list[Message] = Field(..., min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = 1
    top_k: int | None = Field(None, ge=1, le=10, description="extension: how many citations to return")
    mode: Literal["extractive", "generative"] | None = Field(None, description="extension: as in /api/chat")

    @model_validator(mode="before")
    @classmethod
    def valid_unicode(cls, data):
        """No lone surrogates anywhere (they can't become UTF-8, so echoing one back would fail)."""
        if lone_surrogate(data):
            raise ValueError("the request holds an unpaired surrogate escape; send valid Unicode text")
        return data


def question_of(messages: list[Message]) -> str:
    """The text of the last user message (string content or text parts)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        if isinstance(message.content, list):
            return "\n".join(p.text for p in message.content if p.type == "text" and p.text)
        return message.content or ""
    raise OpenAIError(400, "messages must include a user message; its text is the question",
                      param="messages")


def check(body: CompletionRequest) -> None:
    """Reject what this server cannot honour, the way OpenAI rejects it."""
    if body.model != MODEL_ID:
        raise OpenAIError(404, f"The model '{body.model}' does not exist; this server serves "
                               f"'{MODEL_ID}' (see GET /v1/models).", param="model", code="model_not_found")
    if body.n not in (None, 1):
        raise OpenAIError(400, "n must be 1: there is one grounded answer per question.", param="n",
                          code="unsupported_value")


def extras(resp: ChatResponse) -> dict:
    """The non-standard fields: everything /api/chat returns besides the answer text."""
    return resp.model_dump(exclude={"answer"})


def completion(resp: ChatResponse, cid: str, created: int) -> dict:
    """A `chat.completion` object carrying the answer."""
    message = {"role": "assistant", "content": resp.answer}
    return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": USAGE, **extras(resp)}


def deltas(text: str) -> list[str]:
    """Word-sized pieces that concatenate back to `text` exactly."""
    return re.findall(r"\s*\S+|\s+$", text) or [text]


def chunk_events(resp: ChatResponse, cid: str, created: int, include_usage: bool) -> Iterator[str]:
    """SSE lines: a role chunk, content chunks, a stop chunk with the citations, [DONE]."""
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID}

    def event(choices: list, **extra) -> str:
        return f"data: {json.dumps({**head, 'choices': choices, **extra}, ensure_ascii=False, separators=(',', ':'))}\n\n"

    def choice(delta: dict, finish: str | None = None) -> list:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    yield event(choice({"role": "assistant", "content": ""}))
    for piece in deltas(resp.answer):
        yield event(choice({"content": piece}))
    yield event(choice({}, "stop"), **extras(resp))
    if include_usage:
        yield event([], usage=USAGE)
    yield "data: [DONE]\n\n"


@router.post("/chat/completions", summary="Chat completion (OpenAI-compatible)", responses=ERRORS,
             dependencies=[Depends(require_api_key)])  # the same key as /api/chat, sent the OpenAI way
async def chat_completions(body: CompletionRequest, request: Request):
    """Answer the last user message as an OpenAI chat completion, streamed if asked."""
    check(body)
    question = question_of(body.messages)
    # Answer before any byte is sent, so errors (no index, bad question) are proper statuses, not broken
    # streams; a generated answer is awaited verified even when streaming, as a chat stream can't take
    # back words that fail verification.
    ans = await run_in_threadpool(service_of(request).ask, question, body.top_k, body.mode)
    resp, cid, created = ChatResponse.from_answer(ans), f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        return JSONResponse(completion(resp, cid, created))
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(chunk_events(resp, cid, created, include_usage), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def model_card() -> dict:
    return {"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": OWNER}


@router.get("/models", summary="List models (OpenAI-compatible)")
def list_models() -> dict:
    """The one model this server offers; available even before an index is built."""
    return {"object": "list", "data": [model_card()]}


@router.get("/models/{model_id}", summary="Retrieve a model (OpenAI-compatible)", responses=NOT_FOUND)
def get_model(model_id: str) -> dict:
    """The model card for `qa`, or OpenAI's 404."""
    if model_id != MODEL_ID:
        raise OpenAIError(404, f"The model '{model_id}' does not exist.", param="model", code="model_not_found")
    return model_card()
