"""Fit the abstention threshold on data: `python -m eval.calibrate`.

Support = cosine between the question and the best cited sentence. Positives are the
seed set's answerable questions; negatives are its unanswerable ones plus every TyDi
QA development question asked against the reference document (none of them is about
it). The threshold is the highest one that keeps false abstentions at or below
`max_false_per_30` per 30 answerable questions, so honest answers are rarely withheld.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eval.datasets import load_dataset
from qa.engine import Engine
from qa.pipeline import answer

SEED = Path(__file__).resolve().parent / "data" / "seed"
TYDI = Path(__file__).resolve().parents[2] / "shared" / "eval-data" / "tydiqa-id"


def supports(engine: Engine, questions: list[str]) -> np.ndarray:
    """Support score of the best citation for each question."""
    return np.array([answer(q, engine).support for q in questions], dtype=np.float64)


def fit_threshold(pos: np.ndarray, neg: np.ndarray, max_false_per_30: float = 1.0) -> dict:
    """Highest threshold whose false-abstention rate on `pos` is <= max_false_per_30 / 30."""
    allowed = int(np.floor(len(pos) * max_false_per_30 / 30))
    ordered = np.sort(pos)
    threshold = float(ordered[allowed]) if allowed < len(ordered) else float(ordered[-1])
    return {
        "threshold": round(threshold - 1e-4, 4),
        "false_abstentions": int((pos < threshold).sum()),
        "answerable": len(pos),
        "abstention_recall": float((neg < threshold).mean()) if len(neg) else None,
        "negatives": len(neg),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(".qa-index"), help="index of the reference corpus")
    parser.add_argument("--tydi", type=Path, default=TYDI, help="folder of off-topic questions (TyDi QA id)")
    args = parser.parse_args()
    from qa.settings import Settings
    from index.embedders import make_embedder
    from qa.engine import config_from_settings

    settings = Settings(index_dir=args.index_dir)
    engine = Engine(make_embedder(settings.embedder), config_from_settings(settings))
    engine.load(settings.index_dir)
    seed = load_dataset(SEED).questions
    pos = supports(engine, [q.question for q in seed if q.answers])
    neg_seed = supports(engine, [q.question for q in seed if not q.answers])
    neg_tydi = supports(engine, [q.question for q in load_dataset(args.tydi).questions]) if args.tydi.exists() else np.zeros(0)
    fit = fit_threshold(pos, np.concatenate([neg_seed, neg_tydi]))
    fit["recall_on_seed_unanswerable"] = float((neg_seed < fit["threshold"]).mean())
    fit["recall_on_off_topic"] = float((neg_tydi < fit["threshold"]).mean()) if len(neg_tydi) else None
    for name, arr in (("answerable", pos), ("seed unanswerable", neg_seed), ("off-topic (TyDi)", neg_tydi)):
        if len(arr):
            print(f"{name:20s} n={len(arr):4d} min={arr.min():.4f} p10={np.percentile(arr, 10):.4f} "
                  f"median={np.median(arr):.4f} max={arr.max():.4f}")
    print(fit)


if __name__ == "__main__":
    main()
