"""Chunk BM25 inside PostgreSQL: each build's `chunk_terms` table, one row per (token, chunk).

A row holds bm25s's own precomputed BM25 score of that token in that chunk (index/lexical.py), so a
question's score for a chunk is one SUM over its tokens (repeats counted, as bm25s counts them): the
same scores as the in-process index, and the API processes need not build it at load. Measured
against the in-process index and a tsvector column in docs/scaling.md (bench/pglexical.py).
"""
from __future__ import annotations

import numpy as np

from index.lexical import LexicalIndex, tokenize

TABLE = "CREATE TABLE {s}.chunk_terms (term text NOT NULL, pos int NOT NULL, score real NOT NULL);\n"
QUERY = ("SELECT t.pos, sum(t.score) FROM unnest(%s::text[]) q(term) JOIN {s}.chunk_terms t USING (term) "
         "GROUP BY t.pos")


def write(cur, schema: str, lexical: LexicalIndex) -> None:
    """Fill `schema`.chunk_terms from the build's chunk BM25 index, then index it by term."""
    with cur.copy(f"COPY {schema}.chunk_terms FROM STDIN") as copy:
        for row in lexical.postings():
            copy.write_row(row)
    cur.execute(f"CREATE INDEX ON {schema}.chunk_terms (term) INCLUDE (pos, score)")


def present(conn, schema: str) -> bool:
    """Whether the build has the table (builds written before it score BM25 in process)."""
    return conn.execute("SELECT to_regclass(%s)", (f"{schema}.chunk_terms",)).fetchone()[0] is not None


def scores(conn, schema: str, query: str, size: int) -> np.ndarray:
    """BM25 score of every chunk for `query` (zeros where no token matches), as LexicalIndex.scores gives it."""
    out = np.zeros(size, dtype=np.float32)
    tokens = tokenize(query)
    if tokens:
        for pos, score in conn.execute(QUERY.format(s=schema), (tokens,)).fetchall():
            out[pos] = score
    return out
