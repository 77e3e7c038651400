"""Two source trees served side by side, asked alternately: `python bench/http_ab.py OTHER_TREE`.

The HTTP counterpart of engine_ab.py: one `qa serve` from this tree and one from OTHER_TREE
(e.g. a `git worktree` of an earlier commit with its engine built, see engine_ab.py), both
run by this environment's Python over the same index (`--index-dir`, default `.qa-index`),
are warmed up on every seed question and then asked the seed questions alternately, request by
request (who goes first alternates too), `--requests` each. Prints each server's embedder id,
median and p95 round trip and server-side median. An index built by one engine build loads in
the other (same vector space).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import httpx

from alternate import seed_questions, summary, time_alternately  # bench/alternate.py
from serving import free_port, wait_ready  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
SERVE = "import sys; from qa.cli import app; sys.argv[0] = 'qa'; app()"


def start(tree: Path, index_dir: Path, extra_env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    """`qa serve` from `tree`'s sources on a free port; returns its URL and process."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "QA_INDEX_DIR": str(index_dir), "QA_RELOAD_INTERVAL_S": "0",
           **extra_env}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port)], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"http://127.0.0.1:{port}", proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the other source tree, its engine built in place")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--index-dir", type=Path, default=ROOT / ".qa-index")
    parser.add_argument("--other-env", action="append", default=[], metavar="KEY=VALUE",
                        help="set for the other server only, e.g. `. --other-env QA_READER=off`: this tree "
                             "with and without the learned reader")
    args = parser.parse_args()
    questions = seed_questions()
    trees = {"this": ROOT, "other": args.other.resolve()}
    envs = {"this": {}, "other": dict(kv.split("=", 1) for kv in args.other_env)}
    servers = {name: start(tree, args.index_dir.resolve(), envs[name]) for name, tree in trees.items()}
    clients: dict[str, httpx.Client] = {}
    try:
        for name, (url, proc) in servers.items():
            wait_ready(url, proc)
            clients[name] = httpx.Client(base_url=url, timeout=30)
        for q in questions:
            for client in clients.values():
                client.post("/api/chat", json={"question": q}).raise_for_status()
        server: dict[str, list[float]] = {name: [] for name in clients}

        def ask(name: str):  # one contender per server; the server's own time is kept alongside
            return lambda q: server[name].append(clients[name].post("/api/chat", json={"question": q})
                                                 .json()["timings_ms"]["total"])

        asks = [questions[i % len(questions)] for i in range(args.requests)]
        rtt = time_alternately({name: ask(name) for name in clients}, asks)
        for name, client in clients.items():
            timing = summary(rtt[name])
            print(json.dumps({"tree": str(trees[name]), "env": envs[name], "embedder": client.get("/healthz").json()["embedder"],
                              "requests": timing["questions"], "median_ms": timing["median_ms"],
                              "p95_ms": timing["p95_ms"],
                              "server_median_ms": round(statistics.median(server[name]), 1)}))
    finally:
        for client in clients.values():
            client.close()
        for _, proc in servers.values():
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
