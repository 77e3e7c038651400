"""Timing contenders side by side: each question asked of every contender in turn (bench/*_ab.py, query_embed.py).

This shared machine's speed drifts by tens of percent between minutes, so contenders timed in
separate runs can't be compared; asked alternately, they all see the same machine. Who goes
first flips from one question to the next, so none always pays for a cold cache.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

from eval.metrics import percentile

SEED = Path(__file__).resolve().parent.parent / "eval" / "data" / "seed" / "questions.jsonl"


def seed_questions() -> list[str]:
    """The seed set's questions, in file order."""
    return [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines()]


def time_alternately(contenders: dict[str, Callable[[str], object]], asks: list[str]) -> dict[str, list[float]]:
    """Milliseconds each contender took for each of `asks`, asked in turn."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for i, question in enumerate(asks):
        for name in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            contenders[name](question)
            times[name].append((time.perf_counter() - t0) * 1000)
    return times


def summary(ms: list[float], digits: int = 1) -> dict:
    """Count, median and p95 of a list of timings."""
    return {"questions": len(ms), "median_ms": round(statistics.median(ms), digits),
            "p95_ms": round(percentile(ms, 95), digits)}
