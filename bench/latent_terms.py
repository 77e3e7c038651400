"""What latent terms cost per question on a many-document corpus: `python bench/latent_terms.py`.

Loads the `qa eval` cache index of Belebele (with TyDi distractors: 487 passages; run that
`qa eval` first), answers `--questions` of its questions in-process once to warm up (English
word vectors, caches), then again with latent terms off and on, alternating, and prints the
answer-time median/p95 for each and how often the close-call gate paid for the second pass.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

from eval.datasets import SHARED
from eval.metrics import percentile
from eval.corpus import index_passages
from eval.run import EvalOptions, load
from qa.engine import Engine, config_from_settings
from qa.indexing import build_options
from qa.service import Service
from qa.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    opts = EvalOptions(dataset=args.shared / "belebele-id-en", distractors=[args.shared / "tydiqa-id"],
                       show_progress=False)
    dataset = load(opts)
    settings = Settings()
    embedder = settings.make_embedder()
    built = index_passages(dataset.passages, embedder, build_options(settings, False), opts.cache_dir)
    service = Service.from_settings(settings, engine=Engine(embedder, config_from_settings(settings), built.store))
    engine = service.engine
    questions = [q.question for q in dataset.questions][: args.questions]
    on, off = engine.config, dataclasses.replace(engine.config, sparse_weight=0.0)
    calls = {"n": 0}
    embed_sparse = engine.embedder.embed_sparse

    def counted(texts, progress=None):
        calls["n"] += 1
        return embed_sparse(texts, progress)

    engine.embedder.embed_sparse = counted
    for q in questions:  # warm-up
        service.extract(q)
    times: dict[str, list[float]] = {"off": [], "on": []}
    calls["n"] = 0
    for q in questions:
        for name, config in (("off", off), ("on", on)):
            engine.config = config
            t0 = time.perf_counter()
            service.extract(q)
            times[name].append((time.perf_counter() - t0) * 1000)
    report = {name: {"median_ms": round(statistics.median(t), 1), "p95_ms": round(percentile(t, 95), 1)}
              for name, t in times.items()}
    report["second_pass_share"] = round(calls["n"] / len(questions), 3)
    print(json.dumps({"questions": len(questions), **report}))


if __name__ == "__main__":
    main()
