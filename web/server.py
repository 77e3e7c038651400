"""The uvicorn server `qa serve` runs: its config, and an HTTP protocol that bounds what a client may hold.

uvicorn's httptools protocol lets a request line and headers grow without limit (llhttp buffers a
header value until it ends: 256 MB of headers once raised the server to 552 MB) and never times out
a request that arrives a byte at a time. `GuardedProtocol` adds, per connection:
  - the request line and headers together at most `QA_MAX_HEADER_BYTES`, at most `QA_MAX_HEADERS`
    fields: else 431 and close, before the excess is buffered;
  - the line and headers within `QA_HEADER_TIMEOUT_S` of the connection (or of the request's first
    byte), the body within `QA_BODY_TIMEOUT_S` of the headers: else 408 (if nothing was answered
    yet) and close.
uvicorn's own knobs don't cover these with httptools (h11_max_incomplete_event_size is h11's only;
timeout_keep_alive covers idle time between requests, not a request in progress).
"""
from __future__ import annotations

import json

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qa.settings import Settings


class HeadTooLarge(Exception):
    """Raised inside the parser's callback to stop it; answered with 431."""


def error_bytes(status: int, reason: str, detail: str) -> bytes:
    """A complete JSON error response that closes the connection."""
    body = json.dumps({"detail": detail}).encode("ascii")
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "x-content-type-options: nosniff\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounded header size and count and bounded read times."""

    guard: Settings  # set on the subclass `server_config` makes

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_head = True  # between a message's start and the end of its headers
        self.head_bytes = 0
        self.header_count = 0
        self.too_large: str | None = None
        self.deadline = None  # asyncio TimerHandle of the phase being read

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(self.guard.header_timeout_s, "headers")

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.reading_head:
            super().data_received(data)
            return
        room = self.guard.max_header_bytes - self.head_bytes  # feed no more head than the limit allows
        head, rest = data[:room], data[room:]
        self.head_bytes += len(head)
        super().data_received(head)
        if not rest or self.transport.is_closing():
            return
        if self.reading_head:
            self._reject_head(f"the request line and headers are over {self.guard.max_header_bytes} bytes "
                              "(QA_MAX_HEADER_BYTES)")
        else:
            self.data_received(rest)  # the headers ended inside the limit: the rest is body (or the next request)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a keep-alive connection's next request: its own time limit
            self._arm(self.guard.header_timeout_s, "headers")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.guard.max_headers:
            self.too_large = f"the request has over {self.guard.max_headers} header fields (QA_MAX_HEADERS)"
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self._arm(self.guard.body_timeout_s, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self.reading_head, self.head_bytes, self.header_count = True, 0, 0  # what follows is the next request
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """The parser stopped: with 431 if a callback stopped it for size, else uvicorn's 400."""
        if self.too_large:
            self._reject_head(self.too_large)
        else:
            super().send_400_response(msg)

    def _reject_head(self, detail: str) -> None:
        self.logger.warning("refused a request: %s", detail)
        self.transport.write(error_bytes(431, "Request Header Fields Too Large", detail))
        self.transport.close()

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._timed_out, phase)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _timed_out(self, phase: str) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if phase == "headers":  # a connection that sent nothing (more) just closes
            say = self.head_bytes > 0 and (self.cycle is None or self.cycle.response_complete)
        else:  # the app may have answered already without reading the body (401, 413)
            say = self.cycle is not None and not self.cycle.response_started
        if say:
            limit = "QA_HEADER_TIMEOUT_S" if phase == "headers" else "QA_BODY_TIMEOUT_S"
            self.transport.write(error_bytes(408, "Request Timeout", f"the request's {phase} did not arrive "
                                             f"in time ({limit})"))
        self.transport.close()


def server_config(app, settings: Settings, *, host: str | None = None, port: int | None = None,
                  log_level: str = "info") -> uvicorn.Config:
    """uvicorn's Config for `app`: the guarded protocol, forwarded headers only from QA_FORWARDED_ALLOW_IPS."""

    protocol = type("ConfiguredGuardedProtocol", (GuardedProtocol,), {"guard": settings})
    trusted = settings.forwarded_allow_ips
    return uvicorn.Config(app, host=host or settings.host, port=port or settings.port, log_level=log_level,
                          http=protocol, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                          server_header=False)
