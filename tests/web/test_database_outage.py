"""A PostgreSQL restart under a running server: requests meanwhile get a clear 503, the ones after are answered.

Restarts the session's server (tests/postgres_server.py) in place; the other tests' pools reconnect the
same way (a dropped connection is replaced and its query retried).
"""
from __future__ import annotations

import time

import httpx
import pytest

from conftest import LiveServer
from postgres_server import fresh_database, indexed_settings, loaded_engine
from web.app import create_app

QUESTION = {"question": "Who is the UNIDO representative for Indonesia?"}
V1 = {"model": "qa", "messages": [{"role": "user", "content": QUESTION["question"]}]}
OUTAGE_S = 7  # long enough for psycopg_pool's reconnect back-off (1, 2, 4 s) to outlast the request timeout


@pytest.fixture(scope="module")
def outage_server(reference_settings, postgres_server, embedder, tmp_path_factory):
    """A real HTTP server over the bundled corpus in its own database; a query waits 1 s for a connection."""
    settings = indexed_settings(reference_settings, fresh_database(postgres_server.dsn, "outage"), embedder,
                                tmp_path_factory.mktemp("outage"))
    settings = settings.model_copy(update={"database_timeout_s": 1.0, "database_pool_size": 2})
    with LiveServer(create_app(settings, engine=loaded_engine(settings, embedder))) as server:
        yield server.url


def test_a_request_during_a_database_restart_is_a_503_and_those_after_it_are_answered(outage_server, postgres_server):
    with httpx.Client(base_url=outage_server, timeout=30) as client:
        before = client.post("/api/chat", json=QUESTION)
        assert before.status_code == 200 and before.json()["citations"]
        postgres_server.halt()
        try:
            began = time.monotonic()
            while time.monotonic() - began < OUTAGE_S:  # bounded: a few requests of about 1 s each
                r = client.post("/api/chat", json=QUESTION)
                assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
                assert "database can't be reached" in r.json()["detail"] and "QA_DATABASE_URL" in r.json()["detail"]
            v1 = client.post("/v1/chat/completions", json=V1)
            assert v1.status_code == 503 and v1.json()["error"]["code"] == "database_unavailable"
        finally:
            postgres_server.resume()
        for _ in range(3):  # the very first request after the restart is answered, and the same way
            after = client.post("/api/chat", json=QUESTION)
            assert after.status_code == 200, after.text
            assert after.json()["citations"] == before.json()["citations"]
        assert client.post("/v1/chat/completions", json=V1).status_code == 200
    assert _holders(postgres_server.dsn, "outage") >= 1, "the reconnected server no longer holds its build"


def _holders(dsn: str, database: str) -> int:
    """Connections to `database` holding an advisory lock (a build, index/pgconn.hold)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(DISTINCT l.pid) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                            "WHERE l.locktype = 'advisory' AND a.datname = %s", (database,)).fetchone()[0]
