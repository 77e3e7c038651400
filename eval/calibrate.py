"""Fit the abstention thresholds on data, one per question language: `python -m eval.calibrate`.

Support (qa.select.support) is the cosine between the question and its best sentence plus a
word-coverage bonus (qa.coverage), minus a penalty when a how-many/how-much question finds
no figure; for English questions, plus a share of the latent terms the two have in common
(qa.pipeline._latent_support; here computed for every question, not only near the threshold).
The run also fits the thresholds on support without that share, and prints the overlap to
assume when an index or embedder has no latent terms, so that those keep the plain decision.

Positives are answerable questions asked over a corpus that holds their answer: the seed
set over the reference document, TyDi QA over TyDi + Belebele passages, Belebele over
Belebele + TyDi passages. Negatives are questions asked over a corpus that does not: the
seed set's unanswerable ones, TyDi and Belebele questions over the reference document, and
each shared set over the other set's passages alone; and, on topic, TyDi questions over their own
passages with the answer-bearing sentences cut out, and Belebele questions (both languages) whose
answer stands in the passage word for word, likewise (eval.unanswerable). Per language, the threshold is the
highest that keeps false abstentions at or below `max_false_per_30` per 30 answerable
questions in every one of those corpora, so honest answers are rarely withheld whatever the
documents look like; English questions over Indonesian text score lower cosines, hence a
threshold of their own.

The learned reader's settings (how many sentences it reads, its weight, its per-language logit
thresholds) are fitted by `python -m eval.reader_fit` on the same groups plus IDK-MRC dev.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.corpus import index_passages
from eval.datasets import SEED, SHARED, EvalQuestion, load_dataset
from eval.systems import SharedQueries
from eval.unanswerable import remove_answers
from qa.engine import Engine, config_from_settings
from qa.indexing import build_options
from qa.pipeline import answer

LANGUAGES = ("id", "en")


def supports(engine: Engine, questions: list[EvalQuestion]) -> list[tuple[str, float, float]]:
    """(language, support, support without its latent-term part) for each question."""
    weight, rows = engine.config.latent_support_weight, []
    for q in questions:
        a = answer(q.question, engine)
        rows.append((q.lang, a.support, a.support - weight * (a.latent_overlap or 0.0)))
    return rows


def without_latent_terms(found: dict) -> dict:
    """The same groups scored by plain support (what an index or embedder without latent terms gets)."""
    return {name: (positive, [(lang, plain) for lang, _, plain in rows]) for name, (positive, rows) in found.items()}


def missing_overlap(fits: dict, plain_fits: dict, weight: float, languages: tuple[str, ...]) -> float:
    """The overlap that, assumed when latent terms are missing, puts plain support's fitted decision back."""
    gaps = [fits[lang]["threshold"] - plain_fits[lang]["threshold"] for lang in languages if lang in fits]
    return round(max(gaps) / weight, 4) if gaps and weight > 0 else 0.0


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


def groups(engine_for, shared: Path) -> dict[str, tuple[bool, list[tuple[str, float]]]]:
    """name -> (answerable?, [(language, support)]) for every positive and negative group."""
    seed_set = load_dataset(SEED)
    seed = seed_set.questions
    tydi, bele = load_dataset(shared / "tydiqa-id"), load_dataset(shared / "belebele-id-en")
    answerable = [q for q in bele.questions if q.answerable]
    removed, bele_removed = remove_answers(tydi), remove_answers(bele)
    ref, both = engine_for(seed_set.passages), engine_for(tydi.passages + bele.passages)  # each loaded once
    return {
        "seed answerable / reference doc": (True, supports(ref, [q for q in seed if q.answerable])),
        "TyDi / TyDi + Belebele": (True, supports(both, tydi.questions)),
        "Belebele / Belebele + TyDi": (True, supports(both, answerable)),
        "seed unanswerable / reference doc": (False, supports(ref, [q for q in seed if not q.answerable])),
        "TyDi / reference doc": (False, supports(ref, tydi.questions)),
        "Belebele / reference doc": (False, supports(ref, answerable)),
        "Belebele / TyDi passages": (False, supports(engine_for(tydi.passages), answerable)),
        "TyDi / Belebele passages": (False, supports(engine_for(bele.passages), tydi.questions)),
        # on-topic: each question over its own passage with the answer cut out (eval.unanswerable)
        "TyDi / answers removed + Belebele": (False, supports(engine_for(removed.passages + bele.passages),
                                                               removed.questions)),
        "Belebele / answers removed + TyDi": (False, supports(engine_for(bele_removed.passages + tydi.passages),
                                                               bele_removed.questions)),
    }


def fit_per_language(found: dict, max_false_per_30: float = 1.0) -> dict[str, dict]:
    """Per language, the lowest of the thresholds fitted on each positive group: every corpus keeps the bound."""
    fits = {}
    for lang in LANGUAGES:
        neg = np.array([r[1] for positive, rows in found.values() if not positive for r in rows if r[0] == lang])
        positives = ([r[1] for r in rows if r[0] == lang] for positive, rows in found.values() if positive)
        per_group = [fit_threshold(np.array(pos), neg, max_false_per_30) for pos in positives if pos]
        if per_group:
            fits[lang] = min(per_group, key=lambda fit: fit["threshold"])
    return fits


def report(found: dict, thresholds: dict[str, float]) -> list[str]:
    """One line per group and language: size, spread, and the share on the right side of the threshold."""
    lines = []
    for name, (positive, rows) in found.items():
        for lang in LANGUAGES:
            x = np.array([r[1] for r in rows if r[0] == lang])
            if not len(x):
                continue
            right = (x >= thresholds[lang]) if positive else (x < thresholds[lang])
            what = "answered" if positive else "abstained"
            lines.append(f"{name:36s} {lang} n={len(x):4d} p10={np.percentile(x, 10):.3f} "
                         f"median={np.median(x):.3f}  {what} {right.mean():.3f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder with tydiqa-id and belebele-id-en")
    parser.add_argument("--max-false-per-30", type=float, default=1.0)
    args = parser.parse_args()
    from qa.settings import Settings

    settings = Settings()
    # TyDi and Belebele questions are each asked over three corpora: embed every question once
    embedder = SharedQueries(settings.make_embedder(), size=10_000)
    opts = build_options(settings, False)
    config = replace(config_from_settings(settings), latent_support_gate=False)  # every question's full support

    def engine_for(passages) -> Engine:  # indexes come from (and go to) the `qa eval` cache
        return Engine(embedder, config, index_passages(passages, embedder, opts).store)

    found = groups(engine_for, args.shared)
    fits = fit_per_language(found, args.max_false_per_30)
    print("\n".join(report(found, {lang: fit["threshold"] for lang, fit in fits.items()})))
    plain_fits = fit_per_language(without_latent_terms(found), args.max_false_per_30)
    for lang, fit in fits.items():
        print(f"{lang}: {fit}\n    without latent terms: {plain_fits[lang]}")
    missing = missing_overlap(fits, plain_fits, config.latent_support_weight, config.latent_support_languages)
    print(f"QA_ABSTAIN_THRESHOLD_ID={fits['id']['threshold']} QA_ABSTAIN_THRESHOLD_EN={fits['en']['threshold']}"
          f"  AnswerConfig.latent_support_missing={missing}")


if __name__ == "__main__":
    main()
