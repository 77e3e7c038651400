"""Defects an adversarial pass found on the running server (issue 25), each through the layer it lived in.

HTTP- and socket-level ones (header size, slow clients, Host, forwarded headers, the order of the
upload's token check) go through a real uvicorn server on a loopback port with raw sockets, since
httpx would normalize what is sent; every loop is bounded in count and time.
"""
from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import LiveServer
from web.app import create_app

QUESTION = {"question": "Apa tujuan program UNIDO di Indonesia?"}
JSON = {"content-type": "application/json"}


def client(settings, engine, **overrides) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=overrides), engine=engine), raise_server_exceptions=False)


def exchange(port: int, pieces: list[bytes], *, pause: float = 0.0, wait: float = 5.0) -> tuple[bytes, float]:
    """Send `pieces` (pausing between them) on one connection; what came back and when the server closed."""
    start = time.monotonic()
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.settimeout(max(pause, 0.05))
        for piece in pieces:
            try:
                s.sendall(piece)
            except OSError:  # the server has closed: read what it said
                break
            got, closed = _read(s, got, max(pause, 0.01))
            if closed:
                return got, time.monotonic() - start
        got, _ = _read(s, got, wait)
    return got, time.monotonic() - start


def _read(s: socket.socket, got: bytes, seconds: float) -> tuple[bytes, bool]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return got, True
        if not data:
            return got, True
        got += data
    return got, False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def body_of(response: bytes) -> dict:
    return json.loads(response.partition(b"\r\n\r\n")[2])


@pytest.fixture(scope="module")
def guarded(reference_settings, engine):
    """A real server with short read deadlines, a small header limit, a rate limit and an admin token."""
    settings = reference_settings.model_copy(update={
        "header_timeout_s": 1.0, "body_timeout_s": 1.0, "max_header_bytes": 8192, "max_headers": 50,
        "rate_limit_per_minute": 3, "admin_token": "t" * 32})
    with LiveServer(create_app(settings, engine=engine)) as server:
        yield server


def head(path: str = "/healthz", host: str = "127.0.0.1", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}".encode()


# 1. lone surrogates: never a 500, /v1 as strict as /api/chat

@pytest.mark.parametrize("body", [
    b'{"model": "\\ud800", "messages": [{"role": "user", "content": "Apa itu RCID?"}]}',
    b'{"model": "\\ud800", "stream": true, "messages": [{"role": "user", "content": "Apa itu RCID?"}]}',
    b'{"model": "qa", "messages": [{"role": "user", "content": "Apa itu \\udfff?"}]}',
    b'{"model": "qa", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]}',
    b'{"model": "qa", "user": "\\ud800", "messages": [{"role": "user", "content": "Apa itu RCID?"}]}',
])
def test_lone_surrogates_in_v1_are_a_400_in_openai_shape(reference_settings, engine, body):
    r = client(reference_settings, engine).post("/v1/chat/completions", content=body, headers=JSON)
    assert r.status_code == 400, r.text
    assert "surrogate" in r.json()["error"]["message"]


@pytest.mark.parametrize("extra", [{"stream": "yes"}, {"top_k": "3"}, {"n": "1"}, {"top_k": True}, {"model": 1}])
def test_v1_does_not_coerce_types(reference_settings, engine, extra):
    body = {"model": "qa", "messages": [{"role": "user", "content": "Apa itu RCID?"}], **extra}
    r = client(reference_settings, engine).post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["param"], r.text


# 2. header size and count

def test_oversized_headers_get_431_before_they_are_buffered(guarded):
    big = head(extra="X-Pad: ") + b"a" * 20_000 + b"\r\n\r\n"
    response, _ = exchange(guarded.port, [big[i : i + 4096] for i in range(0, len(big), 4096)])
    assert status_of(response) == 431 and "QA_MAX_HEADER_BYTES" in body_of(response)["detail"]
    huge_line = b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert status_of(exchange(guarded.port, [huge_line])[0]) == 431
    assert httpx.get(guarded.url + "/healthz").status_code == 200  # the server is fine


def test_too_many_header_fields_get_431(guarded):
    many = head(extra="".join(f"X-H{i}: v\r\n" for i in range(60))) + b"\r\n"
    response, _ = exchange(guarded.port, [many])
    assert status_of(response) == 431 and "QA_MAX_HEADERS" in body_of(response)["detail"]


def test_headers_just_inside_the_limits_are_served(guarded):
    ok = head(extra="X-Pad: " + "a" * 7000 + "\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(40))) + b"\r\n"
    assert status_of(exchange(guarded.port, [ok])[0]) == 200


# 7. slow clients

def test_headers_sent_a_byte_at_a_time_are_cut_off(guarded):
    drip = [bytes([b]) for b in head(extra="X-Slow: " + "a" * 200)]  # 12 s at 0.05 s a byte, if let run
    response, seconds = exchange(guarded.port, drip, pause=0.05)
    assert status_of(response) == 408 and "QA_HEADER_TIMEOUT_S" in body_of(response)["detail"]
    assert seconds < 4


def test_a_body_sent_a_byte_at_a_time_is_cut_off(guarded):
    start = head("/api/chat", method="POST", extra="Content-Type: application/json\r\nContent-Length: 500\r\n\r\n")
    response, seconds = exchange(guarded.port, [start] + [b" "] * 200, pause=0.05)
    assert status_of(response) == 408 and "QA_BODY_TIMEOUT_S" in body_of(response)["detail"]
    assert seconds < 4


def test_a_connection_that_sends_nothing_is_closed(guarded):
    response, seconds = exchange(guarded.port, [], wait=5)
    assert response == b"" and seconds < 4


# 6. Host header

@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "127.0.0.1.nip.io", ""])
def test_unknown_hosts_are_refused_and_never_echoed(guarded, host):
    for path in ("/healthz", "/docs/", "/api/documents"):
        response, _ = exchange(guarded.port, [head(path, host=host) + b"\r\n"])
        assert status_of(response) == 400, response
        assert b"attacker" not in response.partition(b"\r\n\r\n")[0]  # no location: http://attacker.example/...
        assert "QA_TRUSTED_HOSTS" in body_of(response)["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:{port}", "LOCALHOST", "[::1]:{port}"])
def test_local_names_are_served(guarded, host):
    response, _ = exchange(guarded.port, [head(host=host.format(port=guarded.port)) + b"\r\n"])
    assert status_of(response) == 200


def test_any_host_when_configured(reference_settings, engine):
    assert client(reference_settings, engine, trusted_hosts=["*"]).get(
        "/healthz", headers={"host": "qa.internal"}).status_code == 200


# 8. forwarded headers, token before form, API key, 500s, paths in 503s, long questions

def test_upload_token_is_checked_before_the_body_is_read(guarded):
    start = head("/api/documents", method="POST",
                 extra="Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n")
    response, _ = exchange(guarded.port, [start], wait=3)  # the body never comes
    assert status_of(response) == 401  # before: the form was awaited, and the body deadline's 408 came


# after the tests above: it spends the rate limit
def test_x_forwarded_for_from_loopback_does_not_dodge_the_rate_limit(guarded):
    codes = [httpx.get(guarded.url + "/api/documents", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
             for i in range(5)]
    assert codes.count(429) >= 2, codes  # 3 a minute from this one client, whatever it claims


def test_api_key_covers_the_documents_too(reference_settings, engine):
    keyed = client(reference_settings, engine, api_key="k" * 32)
    doc_id = keyed.get("/api/documents", headers={"X-API-Key": "k" * 32}).json()[0]["doc_id"]
    for path in ("/api/documents", f"/api/documents/{doc_id}"):
        assert keyed.get(path).status_code == 401
        assert keyed.get(path, headers={"Authorization": "Bearer " + "k" * 32}).status_code == 200
    assert keyed.get("/healthz").status_code == 200  # health checks stay open


def test_a_500_is_json_with_the_security_headers(reference_settings, engine):
    app = create_app(reference_settings, engine=engine)

    def boom():
        raise RuntimeError("a bug at /srv/secret/path")

    app.add_api_route("/api/boom", boom)
    app.add_api_route("/v1/boom", boom)
    test = TestClient(app, raise_server_exceptions=False)
    for path in ("/api/boom", "/v1/boom"):
        r = test.get(path)
        assert r.status_code == 500 and r.headers["content-type"] == "application/json"
        assert "secret" not in r.text and r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    assert test.get("/v1/boom").json()["error"]["type"] == "server_error"


def test_503_names_the_problem_but_no_server_path(reference_settings, embedder, tmp_path):
    from qa.service import load_engine

    settings = reference_settings.model_copy(update={"index_dir": tmp_path / "nowhere" / "index"})
    test = TestClient(create_app(settings, engine=load_engine(settings)))
    for r in (test.get("/healthz"), test.post("/api/chat", json=QUESTION)):
        assert r.status_code == 503 and "qa index" in r.json()["detail"]
        assert str(tmp_path) not in r.text and "nowhere" not in r.text
    r = test.post("/v1/chat/completions", json={"model": "qa", "messages": [{"role": "user", "content": "Apa?"}]})
    assert r.status_code == 503 and str(tmp_path) not in r.text


def test_a_question_of_emoji_is_refused_quickly(reference_settings, engine):
    test = client(reference_settings, engine)
    start = time.monotonic()
    r = test.post("/api/chat", json={"question": "😀" * 2000})
    assert r.status_code == 422 and "QA_MAX_QUESTION_TOKENS" in r.json()["detail"]
    emoji = {"model": "qa", "messages": [{"role": "user", "content": "😀" * 2000}]}
    r = test.post("/v1/chat/completions", json=emoji)
    assert r.status_code == 400 and "QA_MAX_QUESTION_TOKENS" in r.json()["error"]["message"]
    assert time.monotonic() - start < 2  # embedding them took 4-8 s
    long_but_fine = "Apa tujuan program UNIDO di Indonesia? " * 5  # ~60 tokens
    assert test.post("/api/chat", json={"question": long_but_fine}).status_code == 200
