"""Sequential chat latency through the HTTP API, and server memory: `python bench/latency.py`.

Starts `qa serve` on a free loopback port over an index of the bundled corpus, warms up
with one pass over the seed questions, then asks them in order for `--requests`
requests, one at a time, and reports median/p95 latency (client side, full HTTP round
trip) and the server's RSS after the load.

The warm-up fills the cache of English word vectors (the lexical bridge embeds each English
word it has not seen before), so the main figures are steady-state ones. Before it, each
English question is asked once after a warm-up on the Indonesian ones only, and the first-time
figures are reported apart (`en_first_time_*`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from eval.metrics import percentile
from serving import cpu_ticks, free_port, rss_mb, steal_pct, wait_ready  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "eval" / "data" / "seed" / "questions.jsonl"
QA = str(Path(sys.executable).parent / "qa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--index-dir", type=Path, default=ROOT / ".qa-index")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines()]
    questions = [row["question"] for row in rows]
    english = [row["question"] for row in rows if row["lang"] == "en"]
    subprocess.run([QA, "index", "--index-dir", str(args.index_dir)], check=True, cwd=ROOT)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "QA_INDEX_DIR": str(args.index_dir), "QA_RELOAD_INTERVAL_S": "0"}
    proc = subprocess.Popen([QA, "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        rss_start = rss_mb(proc.pid)
        times, server = [], []
        with httpx.Client(base_url=url, timeout=30) as client:
            for q in set(questions) - set(english):  # warm-up that leaves English words unseen
                client.post("/api/chat", json={"question": q}).raise_for_status()
            first = [timed(client, q)[0] for q in english]
            for q in questions:  # warm-up: first-time costs (caches, lazy imports) stay out of the figures
                client.post("/api/chat", json={"question": q}).raise_for_status()
            ticks = cpu_ticks()
            for i in range(args.requests):
                ms, body = timed(client, questions[i % len(questions)])
                times.append(ms)
                server.append(body["timings_ms"]["total"])
        result = {
            "requests": args.requests, "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 95), 1), "max_ms": round(max(times), 1),
            "server_median_ms": round(statistics.median(server), 1),
            "en_first_time_median_ms": round(statistics.median(first), 1),
            "en_first_time_p95_ms": round(percentile(first, 95), 1),
            "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(rss_mb(proc.pid), 1),
            "cpu_steal_pct": steal_pct(ticks, cpu_ticks()),
        }
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def timed(client: httpx.Client, question: str) -> tuple[float, dict]:
    """One chat request: its round-trip time in ms and the response body."""
    t0 = time.perf_counter()
    r = client.post("/api/chat", json={"question": question})
    ms = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    return ms, r.json()


if __name__ == "__main__":
    main()
