"""Trusted hosts: answer only requests whose Host header names this server (no DNS rebinding).

A page on attacker.example whose name is rebound to 127.0.0.1 reaches a loopback service with
`Host: attacker.example`; refusing unknown hosts stops it, and keeps redirects (FastAPI's
trailing-slash ones build their `location` from Host) pointing at this server. Starlette's
TrustedHostMiddleware answers in plain text and cuts `[::1]:8000` at the first colon, so this
small one is used instead.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from qa.settings import Settings
from web.security import error_response

WILDCARD_BINDS = {"0.0.0.0", "::", ""}


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """QA_TRUSTED_HOSTS plus the bind address (unless it is a wildcard), lower case."""
    hosts = {h.strip().lower().strip("[]") for h in settings.trusted_hosts}
    if settings.host not in WILDCARD_BINDS:
        hosts.add(settings.host.lower().strip("[]"))
    return frozenset(hosts)


def host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets: `[::1]:8000` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class TrustedHosts:
    """ASGI middleware: 400 for a missing or unknown Host header."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]):
        self.app = app
        self.hosts = hosts
        self.any = "*" in hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.any:
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(raw) not in self.hosts:
                detail = ("this server does not answer for that Host header; add the name to QA_TRUSTED_HOSTS "
                          "if it is yours")
                await error_response(scope.get("path", ""), 400, detail)(scope, receive, send)
                return
        await self.app(scope, receive, send)
