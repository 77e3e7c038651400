"""Typed Python clients for the HTTP API (sync and async), returning the server's own response models.

    with QAClient("http://127.0.0.1:8000") as qa:
        reply = qa.ask("Siapa Esam Alqararah?")
        print(reply.answer, [c.text for c in reply.citations])

Connection errors, timeouts and 503s are retried with exponential backoff (every call is read-only,
so a retry cannot do anything twice); other errors raise at once.
"""
from __future__ import annotations

from asyncio import sleep as async_sleep
from time import sleep
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from web.schemas import ChatResponse, DocumentOut, DocumentSummary, Health

T = TypeVar("T")
# A wrong URL scheme or a proxy misconfiguration won't fix itself; these might.
RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
RETRY_STATUSES = frozenset({503})
CHAT, HEALTH = TypeAdapter(ChatResponse), TypeAdapter(Health)
DOCUMENT, DOCUMENTS = TypeAdapter(DocumentOut), TypeAdapter(list[DocumentSummary])


class QAClientError(Exception):
    """Base class for every error the client raises."""


class QAHTTPError(QAClientError):
    """The server answered with an error status; `detail` is its explanation."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class QAUnavailable(QAClientError):
    """The server could not be reached, or kept answering 503, after all retries."""


def error_detail(response: httpx.Response) -> str:
    """The server's explanation from a FastAPI `detail` or an OpenAI `error`, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # request validation: [{"loc": [...], "msg": ...}, ...]
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    if detail is not None:
        return str(detail)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))
    return response.text


class _Base:
    """Settings and the pure parts shared by the sync and async clients."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 api_key: str | None = None):
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        # the server's QA_API_KEY, if it sets one, sent as Bearer like OpenAI clients send theirs
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _delay(self, attempt: int) -> float:
        return self.backoff * 2 ** attempt

    def _unavailable(self, method: str, path: str, cause: object) -> QAUnavailable:
        return QAUnavailable(f"{method} {self.base_url}{path} failed after {self.retries + 1} attempts: {cause}")

    @staticmethod
    def _decode(response: httpx.Response, adapter: TypeAdapter[T]) -> T:
        if response.is_error:
            raise QAHTTPError(response.status_code, error_detail(response))
        return adapter.validate_json(response.content)

    @staticmethod
    def _chat_body(question: str, top_k: int | None, mode: str | None) -> dict[str, Any]:
        """The request body; what is left out (None) the server decides (QA_TOP_K, QA_ANSWER_MODE)."""
        body: dict[str, Any] = {"question": question}
        if top_k is not None:
            body["top_k"] = top_k
        if mode:
            body["mode"] = mode
        return body

    @staticmethod
    def _document_path(doc_id: str) -> str:
        return "/api/documents/" + quote(doc_id, safe="/")  # ids are relative paths


class QAClient(_Base):
    """Blocking client: `ask`, `documents`, `document`, `health`."""

    def __init__(self, base_url: str, timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 api_key: str | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url, timeout=timeout, retries=retries, backoff=backoff, api_key=api_key)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=self.headers,
                                  transport=transport)

    def _send(self, method: str, path: str, json: Any = None) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, json=json)
            except RETRYABLE as exc:
                cause: object = exc
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code}: {error_detail(response)}"
            if attempt < self.retries:
                sleep(self._delay(attempt))
        raise self._unavailable(method, path, cause)

    def ask(self, question: str, top_k: int | None = None, mode: str | None = None) -> ChatResponse:
        """Answer `question` with up to `top_k` citations (None: the server's QA_TOP_K); `mode` overrides
        the server's answer mode."""
        response = self._send("POST", "/api/chat", self._chat_body(question, top_k, mode))
        return self._decode(response, CHAT)

    def documents(self) -> list[DocumentSummary]:
        """The indexed documents (GET /api/documents)."""
        return self._decode(self._send("GET", "/api/documents"), DOCUMENTS)

    def document(self, doc_id: str) -> DocumentOut:
        """One document's text and sentence offsets (GET /api/documents/{doc_id})."""
        return self._decode(self._send("GET", self._document_path(doc_id)), DOCUMENT)

    def health(self) -> Health:
        """What the server has loaded (GET /healthz)."""
        return self._decode(self._send("GET", "/healthz"), HEALTH)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> QAClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncQAClient(_Base):
    """The asyncio twin of `QAClient`."""

    def __init__(self, base_url: str, timeout: float = 10.0, retries: int = 3, backoff: float = 0.2,
                 api_key: str | None = None, transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(base_url, timeout=timeout, retries=retries, backoff=backoff, api_key=api_key)
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, headers=self.headers,
                                       transport=transport)

    async def _send(self, method: str, path: str, json: Any = None) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.request(method, path, json=json)
            except RETRYABLE as exc:
                cause: object = exc
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code}: {error_detail(response)}"
            if attempt < self.retries:
                await async_sleep(self._delay(attempt))
        raise self._unavailable(method, path, cause)

    async def ask(self, question: str, top_k: int | None = None, mode: str | None = None) -> ChatResponse:
        """Answer `question` with up to `top_k` citations (None: the server's QA_TOP_K); `mode` overrides
        the server's answer mode."""
        response = await self._send("POST", "/api/chat", self._chat_body(question, top_k, mode))
        return self._decode(response, CHAT)

    async def documents(self) -> list[DocumentSummary]:
        """The indexed documents (GET /api/documents)."""
        return self._decode(await self._send("GET", "/api/documents"), DOCUMENTS)

    async def document(self, doc_id: str) -> DocumentOut:
        """One document's text and sentence offsets (GET /api/documents/{doc_id})."""
        return self._decode(await self._send("GET", self._document_path(doc_id)), DOCUMENT)

    async def health(self) -> Health:
        """What the server has loaded (GET /healthz)."""
        return self._decode(await self._send("GET", "/healthz"), HEALTH)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncQAClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
