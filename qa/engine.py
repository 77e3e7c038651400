"""The answering engine: one embedder and the live index, swappable without downtime."""
from __future__ import annotations

import threading
from pathlib import Path

from index import store as store_io
from index.embedders import Embedder
from index.errors import StoreError
from index.protocol import Store
from qa.config import AnswerConfig, config_from_settings  # noqa: F401 - imported from here by callers
from qa.errors import NoIndex
from qa.expand import WordVectors


class Engine:
    """Holds the embedder and the current Store (index.protocol), loaded from an index directory.

    A request reads `engine.store` once and uses that object throughout, so a
    swap (one reference assignment) is seen by each request entirely or not at all.
    """

    def __init__(self, embedder: Embedder, config: AnswerConfig, store: Store | None = None, reader=None,
                 database_url: str | None = None, pool_size: int = 4, pool_timeout_s: float = 5.0):
        self.embedder = embedder
        self.database_url = database_url  # set: the index lives in PostgreSQL (index/pgstore.py), not index_dir
        self.pool_size, self.pool_timeout_s = pool_size, pool_timeout_s  # its connections (index/pgconn.py)
        self.reader = reader  # qa.reader.Reader, or None: the pipeline without the learned reader
        self.config = config
        self.store = store
        self.build: Path | str | None = None  # the build `store` was loaded from: directory or database schema
        self.words = WordVectors(embedder)
        self.load_error: str | None = None  # why the last load failed, told to callers while nothing is loaded
        self._failed_build: Path | str | None = None  # a broken build is reported once, not retried every poll
        self._reload_lock = threading.Lock()

    @property
    def build_name(self) -> str | None:
        """Name of the live build: its directory's name, or its database schema."""
        return self.build.name if isinstance(self.build, Path) else self.build

    def require_store(self) -> Store:
        """The live store, or NoIndex with the fix."""
        store = self.store
        if store is None:
            raise NoIndex(self.load_error or "no index is loaded; run `qa index` (or POST /api/admin/reindex) and retry")
        return store

    def load(self, index_dir: Path) -> Store:
        """Load the live build from disk and swap it in; on StoreError the old store stays live."""
        with self._reload_lock:
            try:
                new = self._read(index_dir)
            except StoreError as exc:
                self.load_error = f"the index could not be loaded: {exc}"
                self._failed_build = self._current(index_dir)
                raise
            self.store, self.load_error, self._failed_build = new, None, None
            self.build = getattr(new, "schema", None) or new.path
            return new

    def _read(self, index_dir: Path) -> Store:
        if self.database_url:
            from index import pgstore  # optional extra: only QA_STORE=postgres imports psycopg

            return pgstore.load(self.database_url, embedder_id=self.embedder.id,
                                vector_space=self.embedder.vector_space, pool_size=self.pool_size,
                                timeout_s=self.pool_timeout_s)
        return store_io.load(index_dir, embedder_id=self.embedder.id, vector_space=self.embedder.vector_space)

    def _current(self, index_dir: Path) -> Path | str | None:
        if self.database_url:
            from index import pgstore

            return pgstore.current_build(self.database_url)
        return _current_or_none(index_dir)

    def reload_if_changed(self, index_dir: Path) -> bool:
        """Swap in a newer build if CURRENT points elsewhere (e.g. after `qa index` ran).

        A build that failed to load is not retried until CURRENT names another one, so a
        poller logs a broken index once instead of re-hashing and re-logging it forever.
        """
        build = self._current(index_dir)
        if build is None or build == self._failed_build:
            return False
        if self.store is not None and self.build == build:
            return False
        self.load(index_dir)
        return True


def _current_or_none(index_dir: Path) -> Path | None:
    try:
        return store_io.current_build(index_dir)
    except StoreError:
        return None
