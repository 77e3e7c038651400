"""A streaming replica serving reads: `pg_basebackup -R` of the test server, a hot standby on another port,
a real HTTP server answering from it while `qa index` writes to the primary."""
from __future__ import annotations

import shutil
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from conftest import LiveServer
from postgres_server import PostgresServer, fresh_database, indexed_settings, loaded_engine
from qa.indexing import index_documents

QUESTION = "Who is the UNIDO representative for Indonesia?"


@pytest.fixture
def standby(postgres_dsn):
    """A hot standby of the session's server (its port: urlsplit(postgres_dsn).port), stopped at the end."""
    server = PostgresServer()
    try:
        server.start_standby(urlsplit(postgres_dsn).port)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        shutil.rmtree(server.root, ignore_errors=True)
        pytest.fail(f"the standby did not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_a_server_answers_from_a_streaming_replica_and_follows_new_builds(reference_settings, postgres_dsn,
                                                                           embedder, tmp_path, request):
    import psycopg

    from index import pgstore
    from web.app import create_app

    primary = indexed_settings(reference_settings, fresh_database(postgres_dsn, "replicated"), embedder,
                               tmp_path / "primary")
    server = request.getfixturevalue("standby")  # after the build: the base backup then holds it
    replica_dsn = server.dsn.rsplit("/", 1)[0] + "/replicated"
    with psycopg.connect(replica_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    replica = primary.model_copy(update={"database_url": SecretStr(replica_dsn)})
    engine = loaded_engine(replica, embedder)
    assert engine.build == pgstore.current_build(primary.database_dsn())
    with LiveServer(create_app(replica, engine=engine)) as live:
        first = httpx.post(live.url + "/api/chat", json={"question": QUESTION}, timeout=30)
        assert first.status_code == 200 and first.json()["citations"]
        index_documents(primary, None, embedder=embedder, show_progress=False)  # writes go to the primary
        new = pgstore.current_build(primary.database_dsn())
        deadline = time.monotonic() + 30
        while pgstore.current_build(replica_dsn) != new and time.monotonic() < deadline:
            time.sleep(0.1)  # streamed, not instant
        assert engine.reload_if_changed(replica.index_dir) and engine.build == new
        again = httpx.post(live.url + "/api/chat", json={"question": QUESTION}, timeout=30)
    assert again.status_code == 200 and again.json()["citations"] == first.json()["citations"]
    with psycopg.connect(replica_dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("CREATE TABLE nope (x int)")  # the replica is read-only: `qa index` needs the primary


TOKEN = "t0k3n-" + "x" * 26
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIBRARY = ("# Perpustakaan Kota Bunga\n\nPerpustakaan Kota Bunga buka pukul 08.00 sampai 15.00 WIB setiap hari "
           "kerja.\n").encode()
LIBRARY_QUESTION = "Jam berapa Perpustakaan Kota Bunga buka?"


def _admin(settings, embedder, read_dsn: str, **update) -> TestClient:
    from web.app import create_app

    settings = settings.model_copy(update={"database_read_url": SecretStr(read_dsn), "admin_token": SecretStr(TOKEN),
                                           **update})
    return TestClient(create_app(settings, engine=loaded_engine(settings, embedder)), raise_server_exceptions=False)


def _upload(client: TestClient):
    return client.post("/api/documents", files={"file": ("perpustakaan.txt", LIBRARY, "text/plain")}, headers=AUTH)


@pytest.mark.slow
def test_with_a_read_url_uploads_are_written_to_the_primary_and_served_from_the_replica(reference_settings,
                                                                                      postgres_dsn, embedder,
                                                                                      tmp_path, request):
    from index import pgstore

    primary = indexed_settings(reference_settings, fresh_database(postgres_dsn, "replicated_admin"), embedder,
                               tmp_path / "primary")
    server = request.getfixturevalue("standby")
    replica_dsn = server.dsn.rsplit("/", 1)[0] + "/replicated_admin"
    client = _admin(primary, embedder, replica_dsn)
    engine = client.app.state.engine
    r = _upload(client)  # the replica is read-only: a build written there would fail
    assert r.status_code == 201, r.text
    live = pgstore.current_build(primary.database_dsn())
    assert engine.build == live == pgstore.current_build(replica_dsn)  # waited for the replica, then swapped
    chat = client.post("/api/chat", json={"question": LIBRARY_QUESTION}).json()
    assert chat["citations"][0]["doc_id"] == "perpustakaan.txt"


def test_a_change_the_read_replica_does_not_replay_in_time_is_a_503_and_stays_live(reference_settings, postgres_dsn,
                                                                                  embedder, tmp_path):
    from index import pgstore
    from index import store as store_io
    from qa.indexing import uploads_dir

    primary = indexed_settings(reference_settings, fresh_database(postgres_dsn, "lag_primary"), embedder,
                               tmp_path / "primary")
    stalled = fresh_database(postgres_dsn, "lag_replica")  # a replica that stopped replaying: it keeps the old build
    pgstore.from_index_store(store_io.load(primary.index_dir), stalled)
    client = _admin(primary, embedder, stalled, database_read_wait_s=1.0)
    engine = client.app.state.engine
    served = engine.build
    r = _upload(client)
    assert r.status_code == 503 and r.headers["retry-after"], r.text
    assert "QA_DATABASE_READ_URL" in r.json()["detail"] and "QA_DATABASE_READ_WAIT_S" in r.json()["detail"]
    assert engine.build == served == pgstore.current_build(stalled)  # still serving what the replica holds
    assert pgstore.current_build(primary.database_dsn()) != served  # the build went live on the primary...
    assert (uploads_dir(primary) / "perpustakaan.txt").read_bytes() == LIBRARY  # ...so the upload is kept
    assert "perpustakaan.txt" in [d.doc_id for d in store_io.load(primary.index_dir).documents]
