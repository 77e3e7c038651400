"""Load test: N chat requests at concurrency C against a `qa serve` it starts on 127.0.0.1 (never elsewhere).

Reports throughput, p50/p95/p99 latency, errors and the server's RSS (VmRSS) before any
request, after a warm-up and at the end. The growth that counts is warm-up -> end: the first
requests page in the memory-mapped model (~70 MB) and fill lazy caches, which is not a leak.
Bounded: stops after --requests or --max-seconds, whichever comes first, and always stops
the server it started. Exit status 1 if any request failed or RSS grew 20% or more.

    .venv/bin/python bench/load.py --requests 10000 --concurrency 16 --json bench/results/load.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from serving import cpu_ticks, free_port, rss_mb, steal_pct, wait_ready  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
QA = Path(sys.executable).parent / "qa"
QUESTIONS = [
    "Apa tujuan program kerja sama UNIDO dengan Indonesia?",
    "Apa saja empat komponen Country Programme?",
    "Siapa perwakilan UNIDO untuk Indonesia?",
    "Bagaimana Indonesia menyiapkan industri 4.0?",
    "Who is the UNIDO representative for Indonesia?",
    "What does the country programme focus on?",
    "Berapa lama program kerja sama ini berjalan?",
    "Sektor industri apa yang diprioritaskan?",
    "What is Making Indonesia 4.0?",
    "Apa peran kementerian perindustrian dalam program ini?",
]


def start_server(index_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    """`qa serve` on loopback; its log goes to `log_path`."""
    env = {**os.environ, "QA_RATE_LIMIT_PER_MINUTE": "0"}
    cmd = [str(QA), "serve", "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


async def hammer(url: str, total: int, concurrency: int, max_seconds: float, on_progress=None) -> dict:
    """Send `total` chat requests from `concurrency` workers; latencies in ms and error counts."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < total and time.monotonic() < deadline:
            n = issued
            issued += 1
            body = {"question": QUESTIONS[n % len(QUESTIONS)], "top_k": 3}
            t0 = time.perf_counter()
            try:
                r = await client.post(url + "/api/chat", json=body)
                kind = None if r.status_code == 200 and r.json().get("answer") else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            latencies.append((time.perf_counter() - t0) * 1000)
            if kind:
                errors[kind] = errors.get(kind, 0) + 1
            if on_progress and len(latencies) % 500 == 0:
                on_progress(len(latencies))

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - started}


def percentiles(latencies: list[float]) -> dict[str, float]:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
            "max_ms": round(max(latencies), 1)}


def run(args: argparse.Namespace) -> dict:
    """Start the server, warm up, load, measure; always stop the server."""
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    index_dir = args.index_dir or work / "index"
    if not (Path(index_dir) / "CURRENT").exists():
        subprocess.run([str(QA), "index", "--index-dir", str(index_dir)], cwd=ROOT, check=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(Path(index_dir), port, work / "server.log")
    try:
        wait_ready(url, proc)
        rss_before = rss_mb(proc.pid)
        warm = asyncio.run(hammer(url, args.warmup, args.concurrency, args.max_seconds))
        rss_warm = rss_mb(proc.pid)
        progress = (lambda n: print(f"  {n} requests, RSS {rss_mb(proc.pid):.0f} MiB", file=sys.stderr)) \
            if args.verbose else None
        ticks = cpu_ticks()
        load = asyncio.run(hammer(url, args.requests, args.concurrency, args.max_seconds, progress))
        steal = steal_pct(ticks, cpu_ticks())
        rss_end = rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    done = len(load["latencies"])
    return {
        "requests": args.requests, "completed": done, "concurrency": args.concurrency,
        "errors": sum(load["errors"].values()) + (args.requests - done), "error_kinds": load["errors"],
        "warmup_requests": len(warm["latencies"]), "warmup_errors": sum(warm["errors"].values()),
        "seconds": round(load["seconds"], 1), "throughput_rps": round(done / load["seconds"], 2),
        **percentiles(load["latencies"]),
        "rss_before_mb": round(rss_before, 1), "rss_after_warmup_mb": round(rss_warm, 1),
        "rss_end_mb": round(rss_end, 1), "rss_growth_pct": round(100 * (rss_end - rss_before) / rss_before, 1),
        "rss_growth_after_warmup_pct": round(100 * (rss_end - rss_warm) / rss_warm, 1),
        "cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "cpu_steal_pct": steal,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Load-test `qa serve` on loopback.")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=100, help="requests sent (and not timed) before the load")
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop the load after this long")
    parser.add_argument("--index-dir", type=Path, help="index to serve (default: build the bundled corpus in a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--verbose", "-v", action="store_true", help="print progress every 500 requests")
    args = parser.parse_args()
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    ok = result["errors"] == 0 and result["rss_growth_after_warmup_pct"] < 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
