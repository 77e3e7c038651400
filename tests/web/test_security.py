"""Hostile input and access control: body limits, malformed bodies, rate limit, API key, CORS."""
from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import LiveServer
from web.app import create_app
from web.security import RateLimiter

QUESTION = {"question": "Apa tujuan program UNIDO di Indonesia?"}


def client(settings, engine, **overrides) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), engine=engine), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def api(reference_settings, engine) -> TestClient:
    return client(reference_settings, engine, max_body_bytes=4096)


@pytest.mark.parametrize("body, headers", [
    (b'{"question": "caf\xe9?"}', {"content-type": "application/json"}),  # latin1, not UTF-8
    (b'{"question": "\xff\xfe\xfd"}', {"content-type": "application/json"}),
    (b'{"question": ', {"content-type": "application/json"}),  # truncated JSON
    (b'{"question": "a\\u0000b"}', {"content-type": "application/json"}),  # NUL
    (b'{"question": "\\ud800 lone surrogate"}', {"content-type": "application/json"}),
    (b'{"question": "Apa?", "top_k": 100000000000000000000}', {"content-type": "application/json"}),
    (b'{"question": "Apa?", "top_k": -1}', {"content-type": "application/json"}),
    (b'{"question": {"a": [1, {"b": [null, {"c": []}]}]}}', {"content-type": "application/json"}),
    (b'[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]', {"content-type": "application/json"}),
    (b"question=Apa", {"content-type": "application/x-www-form-urlencoded"}),
    (b"", {"content-type": "application/json"}),
    (b"null", {"content-type": "application/json"}),
])
def test_malformed_chat_bodies_get_a_clear_4xx(api, body, headers):
    r = api.post("/api/chat", content=body, headers=headers)
    assert r.status_code in (400, 422), r.text
    assert r.json()["detail"]


def test_deep_nesting_is_a_4xx_not_a_crash(api):
    body = b'{"question": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    assert api.post("/api/chat", content=body, headers={"content-type": "application/json"}).status_code in (400, 413, 422)


def test_declared_oversize_body_is_413_before_reading(api):
    r = api.post("/api/chat", json={"question": "x" * 5000})
    assert r.status_code == 413 and "QA_MAX_BODY_BYTES" in r.json()["detail"]


def test_streamed_oversize_body_is_413(reference_settings, engine):
    """No Content-Length (chunked): the limit is enforced while the body arrives."""
    app = create_app(reference_settings.model_copy(update={"max_body_bytes": 4096}), engine=engine)
    with LiveServer(app) as server:
        chunks = (b'{"question": "' + b"a" * 1000 for _ in range(20))
        r = httpx.post(server.url + "/api/chat", content=chunks, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert httpx.post(server.url + "/api/chat", json=QUESTION, timeout=60).status_code == 200


def test_rate_limiter_token_bucket():
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.wait_time("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait_time("a") == pytest.approx(20.0)  # 3 a minute: one more token in 20 s
    assert limiter.wait_time("b") == 0  # per client
    now[0] = 20.0
    assert limiter.wait_time("a") == 0 and limiter.wait_time("a") > 0


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(1, max_clients=100)
    for i in range(1000):
        limiter.wait_time(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) == 100


def test_rate_limit_is_off_by_default(api):
    assert all(api.get("/api/documents").status_code == 200 for _ in range(30))


def test_rate_limit_answers_429_with_retry_after(reference_settings, engine):
    limited = client(reference_settings, engine, rate_limit_per_minute=2)
    assert [limited.get("/api/documents").status_code for _ in range(2)] == [200, 200]
    r = limited.get("/api/documents")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "QA_RATE_LIMIT_PER_MINUTE" in r.json()["detail"]
    assert limited.get("/healthz").status_code == 200  # health checks are never limited


def test_chat_api_key_when_configured(reference_settings, engine):
    keyed = client(reference_settings, engine, api_key="k" * 32)
    assert keyed.post("/api/chat", json=QUESTION).status_code == 401
    assert keyed.post("/api/chat", json=QUESTION, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert keyed.post("/api/chat", json=QUESTION, headers={"Authorization": "Bearer " + "k" * 32}).status_code == 200
    assert keyed.post("/api/chat", json=QUESTION, headers={"X-API-Key": "k" * 32}).status_code == 200


def test_chat_is_open_without_an_api_key(api):
    assert api.post("/api/chat", json=QUESTION).status_code == 200


def test_cors_is_off_by_default(api):
    r = api.options("/api/chat", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    r = api.get("/api/documents", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_configured_origins(reference_settings, engine):
    cors = client(reference_settings, engine, cors_origins=["https://app.example"])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = cors.options("/api/chat", headers={"Origin": "https://app.example", **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    other = cors.options("/api/chat", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
