"""A streaming replica serving reads: `pg_basebackup -R` of the test server, a hot standby on another port,
a real HTTP server answering from it while `qa index` writes to the primary."""
from __future__ import annotations

import shutil
import subprocess
import time
from urllib.parse import urlsplit

import httpx
import pytest
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
