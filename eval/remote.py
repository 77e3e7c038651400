"""The full system over HTTP: questions go to a running server's POST /api/chat."""
from __future__ import annotations

import time

import httpx

from eval.systems import Outcome, unique_docs
from index.errors import DomainError


class RemoteError(DomainError):
    """The server could not be reached or answered with an error."""


class RemoteSystem:
    """Ask a running server; gold ranks come from the doc_ids of the returned citations.

    The server must be serving the same passages (one document per passage, doc_id =
    passage id). Its citations come from its top few chunks only, so deep ranks
    (Recall@10) can read lower than in-process.
    """

    def __init__(self, base_url: str, top_k: int = 10, timeout: float = 120.0,
                 transport: httpx.BaseTransport | None = None):
        self.top_k = min(max(top_k, 1), 10)  # the API allows 1..10 citations
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    def __call__(self, question: str) -> Outcome:
        """Ask one question; RemoteError with the server's message on failure."""
        t0 = time.perf_counter()
        try:
            resp = self.client.post("/api/chat", json={"question": question, "top_k": self.top_k})
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.client.base_url} ({exc}); is `qa serve` running?") from None
        latency = round((time.perf_counter() - t0) * 1000, 2)
        if resp.status_code != 200:
            raise RemoteError(f"{self.client.base_url}/api/chat answered {resp.status_code}: {resp.text[:300]}")
        body = resp.json()
        citations = body.get("citations") or []
        return Outcome(docs=unique_docs((c["doc_id"] for c in citations), self.top_k), latency_ms=latency,
                       answer=body.get("answer"), abstained=body.get("abstained"),
                       language=body.get("language"), citations=citations,
                       timings_ms=body.get("timings_ms"), highlight=body.get("highlight"))
