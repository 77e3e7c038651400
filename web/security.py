"""Request guards: admin token, optional chat API key, per-client rate limit, body size limit."""
from __future__ import annotations

import hmac
import math
import re
import time
from collections import OrderedDict

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.settings import Settings

UPLOAD_PATHS = ("/api/documents",)
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around an uploaded file
LIMITED_PREFIXES = ("/api/", "/v1/")  # the rate limit spares the page, static files and /healthz
OPENAI_PREFIX = "/v1/"
# an absolute file path in an error message (not an API route such as /api/admin/reindex)
FILE_PATH = re.compile(r"(?<![\w.`/])/(?!api/|v1/|healthz\b|docs\b)[^\s'\"`;,()]+")

admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminToken",
                          description="the server's QA_ADMIN_TOKEN; without one configured these endpoints answer 403")


def _secret(value: SecretStr | str | None) -> bytes:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return (value or "").encode("utf-8")


def _same(given: str | None, secret: bytes) -> bool:
    """Constant-time comparison, so response timing doesn't leak how much of a guess was right."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret)


def require_admin(request: Request,
                  credentials: HTTPAuthorizationCredentials | None = Security(admin_bearer)) -> None:
    """Let through only requests bearing the admin token; with no token configured, nobody (403)."""
    secret = _secret(request.app.state.settings.admin_token)
    if not secret:
        raise HTTPException(403, "document management is disabled on this server; set QA_ADMIN_TOKEN to enable it")
    if credentials is None or not _same(credentials.credentials, secret):
        raise HTTPException(401, "send `Authorization: Bearer <admin token>` (the server's QA_ADMIN_TOKEN)",
                            headers={"WWW-Authenticate": "Bearer"})


def require_api_key(request: Request) -> None:
    """If QA_API_KEY is set, chat needs it as `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    secret = _secret(request.app.state.settings.api_key)
    if not secret:
        return
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-api-key")
    if not _same(given, secret):
        raise HTTPException(401, "this server needs an API key: send `Authorization: Bearer <key>` or "
                            "`X-API-Key: <key>` (the server's QA_API_KEY)", headers={"WWW-Authenticate": "Bearer"})


def public_detail(message: str) -> str:
    """`message` with absolute paths cut to their last part: anonymous clients learn what, not where."""
    return FILE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "/", message)


class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute on average, bursts of up to as many."""

    def __init__(self, per_minute: int, max_clients: int = 10_000, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)

    def wait_time(self, client: str) -> float:
        """0 and a token taken if `client` may proceed, else seconds until it may."""
        now = self.clock()
        tokens, then = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.refill)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.refill
        self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > self.max_clients:  # bounded memory: forget the least recently seen
            self._buckets.popitem(last=False)
        return wait


ERROR_CODES = {400: "invalid_request", 429: "rate_limit_exceeded", 413: "request_too_large", 500: "server_error"}


def error_response(path: str, status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The app's `{"detail"}` error, or OpenAI's `{"error": {...}}` on the OpenAI-compatible routes."""
    if path.startswith(OPENAI_PREFIX):
        code = ERROR_CODES.get(status)
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": detail, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class RateLimit:
    """ASGI middleware answering 429 with Retry-After once a client exceeds its rate."""

    def __init__(self, app: ASGIApp, per_minute: int):
        self.app = app
        self.limiter = RateLimiter(per_minute)
        self.per_minute = per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LIMITED_PREFIXES):
            client = scope["client"][0] if scope.get("client") else "unknown"
            wait = self.limiter.wait_time(client)
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                detail = (f"rate limit of {self.per_minute} requests a minute exceeded "
                          f"(QA_RATE_LIMIT_PER_MINUTE); retry after {retry} s")
                await error_response(scope["path"], 429, detail, {"Retry-After": retry})(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware answering 413 for bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int):
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS
        limit = self.upload_limit + MULTIPART_SLACK if upload else self.limit
        too_big = error_response(scope["path"], 413, f"the request body is over the limit of {limit} bytes "
                         f"({'QA_MAX_UPLOAD_BYTES' if upload else 'QA_MAX_BODY_BYTES'})")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await too_big(scope, receive, send)
            return
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["over"] = True  # stop reading: the app sees a disconnect
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"]:
                return  # whatever the app answers to a cut-off body is replaced by the 413
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await too_big(scope, receive, send)


OPENAI_ERROR_SCHEMA = {
    "title": "OpenAIErrorOut", "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}},
}
COMMON_ERRORS = {
    429: {"description": "rate limit exceeded (QA_RATE_LIMIT_PER_MINUTE)",
          "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}},
}
BODY_ERRORS = {
    400: {"description": "the body could not be parsed (e.g. malformed JSON or UTF-8)"},
    413: {"description": "request body over QA_MAX_BODY_BYTES (uploads: QA_MAX_UPLOAD_BYTES)"},
}


def declare_errors(app: FastAPI, error_model: type[BaseModel]) -> None:
    """Add the middleware's 429 (and 400/413 for bodies) to every API operation in the OpenAPI document."""
    original = app.openapi
    name = error_model.__name__

    def openapi() -> dict:
        schema = original()  # cached by FastAPI, so these in-place additions are made once
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(name, error_model.model_json_schema())
        components.setdefault("OpenAIErrorOut", OPENAI_ERROR_SCHEMA)
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(LIMITED_PREFIXES):
                continue
            openai = path.startswith(OPENAI_PREFIX)
            ref = {"$ref": "#/components/schemas/" + ("OpenAIErrorOut" if openai else name)}
            for method, operation in operations.items():
                extra = {**COMMON_ERRORS, **(BODY_ERRORS if method in ("post", "put", "patch") else {})}
                for status, spec in extra.items():
                    if not (openai and status == 400):  # those routes declare their own 400s
                        operation["responses"].setdefault(str(status), {**spec, "content": {"application/json": {"schema": ref}}})
        return schema

    app.openapi = openapi


def install(app: FastAPI, settings: Settings, error_model) -> None:
    """Add the body limit, the rate limit (if configured) and CORS (if configured), CORS outermost."""
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, max_age=600,
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key"])
    declare_errors(app, error_model)

