"""PgStore: the index.protocol.Store kept in PostgreSQL + pgvector (extra `postgres`; QA_STORE=postgres).

Each build is one schema `qa_build_<n>`: documents (with checksums and PDF page offsets), sentences
and chunks (doc_id, offsets, text, `vector(dim)`; an HNSW index on chunk vectors) and one `meta` row
(manifest, vocabulary) with the large values in parts (index/pgblobs.py). `public.qa_current` names the live build. A build is
written in ONE transaction that also moves the pointer, so readers see the old build until it
commits; the previous build stays (keep=2) so a server still on it keeps answering until it reloads.
Postgres supplies dense candidates, similarities and chunk BM25 scores (index/pgterms.py: bm25s's own
scores, so fusion is unchanged); texts, sentence BM25 (rebuilt at load) and the vocabulary are held in process.
Queries go through a psycopg_pool pool: a connection the database dropped (a restart, a failover) is
replaced, and a query that met one is retried once on a fresh one; while none can be had, StoreUnavailable.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from index import pgblobs, pgconn, pgterms
from index.errors import StoreError
from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.faissstore import IndexStore
from index.store import from_records, records

try:
    import psycopg
    from pgvector.psycopg import register_vector
except ImportError:  # optional: only QA_STORE=postgres needs it (pgconn says how to install it)
    psycopg = None

PREFIX = "qa_build_"
# pgvector's default, 40, missed the true nearest chunk for 6-7 of 60 questions at 10k chunks; 100: 1 (bench/pgrecall.py)
EF_SEARCH = 100
BLOBS = ("vocab_vectors", "chunk_sparse", "sentence_sparse")  # in parts (index/pgblobs.py)
TABLES = """
CREATE TABLE {s}.meta (manifest jsonb NOT NULL, vocab jsonb NOT NULL);
CREATE TABLE {s}.documents (pos int PRIMARY KEY, doc_id text UNIQUE NOT NULL, title text NOT NULL,
                            text text NOT NULL, checksum text NOT NULL, pages int[] NOT NULL);
CREATE TABLE {s}.sentences (pos int PRIMARY KEY, doc_id text NOT NULL, idx int NOT NULL, start_char int NOT NULL,
                            end_char int NOT NULL, paragraph int NOT NULL, text text NOT NULL,
                            embedding vector({dim}) NOT NULL);
CREATE TABLE {s}.chunks (pos int PRIMARY KEY, doc_id text NOT NULL, sentence_idx int[] NOT NULL,
                         start_char int NOT NULL, end_char int NOT NULL, text text NOT NULL,
                         embedding vector({dim}) NOT NULL);
"""


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _npz(matrix: sparse.csr_matrix | None) -> bytes | None:
    if matrix is None:
        return None
    buf = io.BytesIO()
    sparse.save_npz(buf, matrix, compressed=False)
    return buf.getvalue()


def _copy(cur, sql: str, rows) -> None:
    with cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def from_index_store(store: IndexStore, dsn: str, keep: int = 2) -> str:
    """Write `store` as a new build in one transaction and make it live; returns the build's schema name."""
    try:
        return _write_build(store, dsn, keep)
    except psycopg.Error as exc:
        raise StoreError(f"writing the build to PostgreSQL failed, the live build is unchanged "
                         f"({pgconn.oneline(exc)})") from None


def _write_build(store: IndexStore, dsn: str, keep: int) -> str:
    with pgconn.connect(dsn) as conn:  # commits on success, rolls back on error
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS public.qa_current (one int PRIMARY KEY CHECK (one = 1), "
                     "build text NOT NULL)")
        conn.execute("LOCK TABLE public.qa_current IN EXCLUSIVE MODE")  # one writer at a time; readers go on
        name = f"{PREFIX}{time.time_ns()}"
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(TABLES.format(s=name, dim=store.manifest.dim) + pgblobs.TABLE.format(s=name)
                     + pgterms.TABLE.format(s=name))
        _write_rows(conn, name, store)
        conn.execute(f"CREATE INDEX ON {name}.chunks USING hnsw (embedding vector_ip_ops)")
        conn.execute("INSERT INTO public.qa_current VALUES (1, %s) ON CONFLICT (one) DO UPDATE SET build = "
                     "excluded.build", (name,))
        _drop_old(conn, current=name, keep=keep)
    return name


def _write_rows(conn, name: str, store: IndexStore) -> None:
    rec = records(store)
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {name}.meta VALUES (%s, %s)",
                (store.manifest.model_dump_json(), json.dumps(store.vocab, ensure_ascii=False)))
    for blob, data in zip(BLOBS, (_npy(store.vocab_vectors), _npz(store.chunk_sparse), _npz(store.sentence_sparse))):
        pgblobs.write(cur, name, blob, data)
    _copy(cur, f"COPY {name}.documents FROM STDIN",
          ((i, d["doc_id"], d["title"], d["text"], d["checksum"], d.get("pages", []))
           for i, d in enumerate(rec["documents"])))
    _copy(cur, f"COPY {name}.sentences FROM STDIN",
          ((i, *row, s.text, store.sentence_vectors[i])
           for i, (row, s) in enumerate(zip(rec["sentences"], store.sentences))))
    _copy(cur, f"COPY {name}.chunks FROM STDIN",
          ((i, d, sids, a, b, c.text, store.chunk_vectors[i])
           for i, ((d, sids, a, b), c) in enumerate(zip(rec["chunks"], store.chunks))))
    pgterms.write(cur, name, store.lexical)


def _drop_old(conn, current: str, keep: int) -> None:
    names = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
                                        (PREFIX + "%",))]
    old = [n for n in names if n != current][: max(0, len(names) - keep)]
    for n in old:  # a server still answering from `n` holds it (_read_live): a later build drops it
        if pgconn.try_release(conn, n):
            conn.execute(f"DROP SCHEMA {n} CASCADE")


@dataclass
class PgStore(IndexStore):
    """IndexStore whose vectors stay in PostgreSQL: dense search and similarities are SQL over pgvector."""

    connections: pgconn.Connections | None = None  # each of them holds the build (pgconn.hold)
    schema: str = ""
    terms_in_sql: bool = False  # chunk BM25 from the build's chunk_terms; False: a build before it, scored in process

    def _run(self, work):
        return self.connections.run(work)

    def search_dense(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk ids and cosine scores by the HNSW index (ef_search EF_SEARCH, or k if more)."""
        k = min(k, len(self.chunks))

        def dense(conn):
            with conn.transaction():
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}")
                return conn.execute(f"SELECT pos, -(embedding <#> %s) FROM {self.schema}.chunks "
                                    "ORDER BY embedding <#> %s LIMIT %s",
                                    (_vec(query_vector), _vec(query_vector), k)).fetchall()

        rows = self._run(dense)
        return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.float32)

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query`, summed in SQL (index/pgterms.py)."""
        if not self.terms_in_sql:
            return super().lexical_scores(query)
        return self._run(lambda conn: pgterms.scores(conn, self.schema, query, len(self.chunks)))

    def close(self) -> None:
        """Close the connections, and with them this server's hold on the build."""
        if self.connections is not None:
            self.connections.close()

    def __del__(self):  # a store swapped out is closed when its last request drops it
        self.close()

    def chunk_similarity(self, chunk_ids, query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed chunk with a normalized query vector."""
        return self._similarity("chunks", chunk_ids, query_vector)

    def sentence_similarity(self, sentence_ids, query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed sentence with a normalized query vector."""
        return self._similarity("sentences", sentence_ids, query_vector)

    def _similarity(self, table: str, ids, query_vector: np.ndarray) -> np.ndarray:
        ids = [int(i) for i in ids]
        sql = f"SELECT pos, -(embedding <#> %s) FROM {self.schema}.{table} WHERE pos = ANY(%s)"
        rows = dict(self._run(lambda conn: conn.execute(sql, (_vec(query_vector), ids)).fetchall()))
        return np.array([rows[i] for i in ids], dtype=np.float32)


def _vec(query_vector: np.ndarray) -> np.ndarray:
    return np.asarray(query_vector, dtype=np.float32).reshape(-1)


def load(dsn: str, *, embedder_id: str | None = None, vector_space: str | None = None, pool_size: int = 4,
         timeout_s: float = 5.0) -> PgStore:
    """Load the live build named by public.qa_current, refusing one made in another vector space.

    Queries then use a pool of up to `pool_size` connections; a query waits up to `timeout_s` for one.
    """
    with pgconn.connect(dsn, autocommit=True) as conn:  # holds the build until the pool's connections do
        try:
            name, (manifest, vocab, vocab_vectors, chunk_sparse, sentence_sparse), rec = _read_live(conn)
            in_sql = pgterms.present(conn, name)
        except psycopg.Error as exc:
            raise StoreError(f"reading the index from PostgreSQL failed ({pgconn.oneline(exc)}); check the "
                             "server's log, or rebuild with `qa index`") from None
        manifest = Manifest.model_validate(manifest)
        same_space = vector_space is not None and manifest.vector_space == vector_space
        if embedder_id is not None and manifest.embedder_id != embedder_id and not same_space:
            raise StoreError(f"the database index was built with embedder {manifest.embedder_id!r}, but "
                             f"{embedder_id!r} is configured; rebuild it (or set QA_EMBEDDER to match)")
        connections = pgconn.Connections(dsn, pool_size, timeout_s, hold_build=name)
    docs, sentences, chunks = from_records(rec)
    return PgStore(
        manifest=manifest, documents=docs, sentences=sentences, chunks=chunks,
        chunk_vectors=np.empty((0, manifest.dim), np.float32), sentence_vectors=np.empty((0, manifest.dim), np.float32),
        dense=None, lexical=None if in_sql else LexicalIndex.build([c.text for c in chunks]), terms_in_sql=in_sql,
        sentence_lexical=LexicalIndex.build([s.text for s in sentences]),
        vocab=vocab, vocab_vectors=np.load(io.BytesIO(vocab_vectors)),
        chunk_sparse=_sparse(chunk_sparse), sentence_sparse=_sparse(sentence_sparse), connections=connections, schema=name)


def _read_live(conn) -> tuple[str, tuple, dict]:
    """The live build's schema, meta row and records, in one snapshot (a build committing meanwhile isn't half-read)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            name = conn.execute("SELECT build FROM public.qa_current").fetchone()[0]
        except (psycopg.errors.UndefinedTable, TypeError):
            raise StoreError("no index in the database; run `qa index` with QA_STORE=postgres") from None
        pgconn.hold(conn, name)  # see _drop_old
        register_vector(conn)  # after: a database without a build may lack the extension
        meta = tuple(_meta(conn, name))
        rec = {"documents": [dict(zip(("doc_id", "title", "text", "checksum", "pages"), r)) for r in conn.execute(
                   f"SELECT doc_id, title, text, checksum, pages FROM {name}.documents ORDER BY pos")],
               "sentences": conn.execute(f"SELECT doc_id, idx, start_char, end_char, paragraph "
                                         f"FROM {name}.sentences ORDER BY pos").fetchall(),
               "chunks": conn.execute(f"SELECT doc_id, sentence_idx, start_char, end_char "
                                      f"FROM {name}.chunks ORDER BY pos").fetchall()}
    return name, meta, rec


def _meta(conn, name: str):
    """The manifest, the vocabulary and the large values, one query each and in binary (as hex text the two
    latent-term blobs of 100k chunks, 560 MB, passed PostgreSQL's 1 GB limit on one message)."""
    parted = pgblobs.present(conn, name)
    for column in ("manifest", "vocab") + (() if parted else BLOBS):  # builds before pgblobs: columns of meta
        yield conn.execute(f"SELECT {column} FROM {name}.meta", binary=True).fetchone()[0]
    for blob in BLOBS if parted else ():
        yield pgblobs.read(conn, name, blob)


def _sparse(blob: bytes | None) -> sparse.csr_matrix | None:
    return None if blob is None else sparse.load_npz(io.BytesIO(blob)).tocsr()


def current_build(dsn: str) -> str | None:
    """Schema name of the live build, or None (no database, no build yet)."""
    try:
        with pgconn.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT build FROM public.qa_current").fetchone()
    except StoreError:
        return None
    except psycopg.Error:
        return None
    return row[0] if row else None
