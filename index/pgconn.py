"""Connections to PostgreSQL for index/pgstore.py: one-off ones, and the pool a loaded build queries through.

`Connections` (over psycopg_pool) re-opens connections the database dropped (a restart, a failover),
retries a query that met a dropped one once, on a fresh connection, and turns "no connection to be
had" into StoreUnavailable, which web/ answers with a 503.
"""
from __future__ import annotations

import threading

from index.errors import StoreError, StoreUnavailable

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
except ImportError:  # optional: only QA_STORE=postgres needs it
    psycopg = None

INSTALL = "install the postgres extra: pip install 'qa-indonesia[postgres]'"
HOLD = "hashtext('qa_build')"  # advisory lock class: (HOLD, hashtext(schema)) held shared by each server on it


def oneline(exc: BaseException) -> str:
    """An exception's message on one line (libpq's span several)."""
    return " ".join(str(exc).split())


def connect(dsn: str, **kwargs):
    """A psycopg connection, or StoreError naming the fix."""
    if psycopg is None:
        raise StoreError(f"QA_STORE=postgres needs psycopg, psycopg_pool and pgvector; {INSTALL}")
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        raise StoreError(f"can't connect to PostgreSQL ({oneline(exc)}); check QA_DATABASE_URL") from None


def hold(conn, schema: str) -> None:
    """Hold build `schema` for as long as `conn` is open: a build drops an old schema only if nobody holds it."""
    conn.execute(f"SELECT pg_advisory_lock_shared({HOLD}, hashtext(%s))", (schema,))


def try_release(conn, schema: str) -> bool:
    """Within a transaction on `conn`: whether nobody holds `schema` (then it is this transaction's to drop)."""
    return conn.execute(f"SELECT pg_try_advisory_xact_lock({HOLD}, hashtext(%s))", (schema,)).fetchone()[0]


class Connections:
    """The pool a loaded build's queries run on; every connection in it holds that build (see `hold`).

    psycopg_pool replaces connections the database dropped, but after an outage it retries with a
    growing back-off (1, 2, 4... s): a pool that still has no connection when the database answers
    again is replaced by a fresh one, so the server answers as soon as the database does.
    """

    def __init__(self, dsn: str, size: int, timeout_s: float, *, hold_build: str):
        self.dsn, self.size, self.timeout_s, self.build = dsn, size, timeout_s, hold_build
        self._lock = threading.Lock()
        self.pool = self._open()

    def _open(self):
        """A pool of up to `size` connections; at least two stay open (each replaced on its own), so the hold never lapses."""
        def configure(conn) -> None:
            register_vector(conn)
            hold(conn, self.build)

        pool = ConnectionPool(self.dsn, min_size=min(2, self.size), max_size=self.size, kwargs={"autocommit": True},
                              configure=configure, timeout=self.timeout_s, open=False, name=self.build)
        try:
            pool.open(wait=True, timeout=self.timeout_s)
        except PoolTimeout:
            pool.close(timeout=1)
            raise StoreError(f"can't open {min(2, self.size)} connections to PostgreSQL in {self.timeout_s} s; "
                             "check QA_DATABASE_URL and the server's max_connections") from None
        return pool

    def run(self, work):
        """`work(connection)` on a pooled connection; once more on a fresh one if the database dropped the first."""
        for attempt in range(2):
            pool = self.pool
            try:
                with pool.connection() as conn:
                    return work(conn)
            except (PoolTimeout, PoolClosed) as exc:  # closed: another request replaced it meanwhile
                if attempt or not self._reopened(pool):
                    raise unavailable(exc) from None
            except psycopg.OperationalError as exc:  # the server restarted, failed over or cut the connection
                if attempt:
                    raise unavailable(exc) from None
                pool.check()  # drop the idle connections that went with it; the pool opens new ones

    def _reopened(self, stale) -> bool:
        """Replace pool `stale` if the database answers now; whether a usable pool is in place."""
        with self._lock:
            if self.pool is not stale:
                return True
            try:
                psycopg.connect(self.dsn, connect_timeout=max(1, round(self.timeout_s))).close()
                self.pool = self._open()
            except (psycopg.Error, StoreError):
                return False
        stale.close(timeout=1)
        return True

    def close(self) -> None:
        """Close the connections, and with them this server's hold on the build."""
        self.pool.close(timeout=1)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The 503 for a query no connection could be had for."""
    return StoreUnavailable(f"the index's database can't be reached right now ({oneline(exc) or 'no connection'}); "
                            "retry shortly, and check that PostgreSQL at QA_DATABASE_URL is up")
