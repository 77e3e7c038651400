"""Fit how the reader is used: candidates read, its weight beside the pipeline score, gap, thresholds.

    python -m eval.reader_fit [--rows eval-out/reader-rows-v5.json]

For every dev question (IDK-MRC dev, TyDi, Belebele id/en, the seed set, and the off-topic and
on-topic negatives eval.calibrate uses) it records the pipeline's first five sentences without
the reader, their reader logits and which hold a gold answer; then it searches the settings
offline, on each half of every group apart (questions split by a hash of their text): a setting
chosen on half A is checked on half B. Thresholds per language keep false abstentions at or below `--max-false` of the
answerable questions in every positive group, the rule eval.calibrate applies to support.
"""
from __future__ import annotations

import argparse
import itertools
import json
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.corpus import index_passages
from eval.datasets import SEED, SHARED, EvalQuestion, load_dataset
from eval.metrics import contains_gold
from eval.systems import SharedQueries
from eval.unanswerable import remove_answers
from qa.config import config_from_settings
from qa.engine import Engine
from qa.pipeline import answer
from qa.reader import load_reader
from qa.rerank import reader_order, reader_text

DEPTH = 5
CANDIDATES = (2, 3)
WEIGHTS = (4.0, 8.0)
GAPS = (float("inf"), 0.25, 0.125, 0.0625)  # the reader reads when the first two scores are closer (qa.rerank)


def collect(engine: Engine, reader, questions: list[EvalQuestion], group: str, positive: bool) -> list[dict]:
    """Per question: support decision, first sentences' pipeline scores, reader logits, gold flags."""
    rows = []
    for q in questions:
        a = answer(q.question, engine, top_k=DEPTH)
        texts = [reader_text(engine.store, c.doc_id, c.text) for c in a.citations]
        logits = reader.logits(q.question, texts) if reader is not None else []
        rows.append({"group": group, "positive": positive, "lang": q.lang, "answerable": q.answerable,
                     "question": q.question, "texts": texts,
                     "support_ok": not a.abstained, "scores": [c.score for c in a.citations],
                     "support": a.support, "overlap": a.latent_overlap, "language": a.language,
                     "passages": [[p.score, p.dense, p.lexical] for p in a.passages[:3]],
                     "logits": [round(float(x), 4) for x in logits],
                     "gold": [bool(q.answers) and contains_gold(c.text, q.answers) for c in a.citations]})
    return rows


def decide(row: dict, n: int, weight: float, gap: float) -> tuple[bool, float, int]:
    """(top sentence holds gold, best logit, sentences read) under candidates n, weight and gap.

    Where the gap leaves the order to the pipeline, the logit is the first sentence's (what the reader
    reads to judge it when a threshold is set).
    """
    if not row["logits"]:
        return False, -99.0, 0
    scores = row["scores"][:n]
    if len(scores) < 2 or scores[0] - scores[1] >= gap:
        return bool(row["gold"][0]), float(row["logits"][0]), 0
    logits = np.array(row["logits"][:n])
    top = int(reader_order(logits, scores, weight)[0])  # the rule qa.rerank applies
    return bool(row["gold"][top]), float(logits.max()), len(scores)


def half(row: dict) -> str:
    """Which half of its group a question falls in (A or B), by a hash of its text."""
    return "AB"[zlib.crc32(row["question"].encode("utf-8")) % 2]


def threshold_for(best: dict[str, np.ndarray], max_false: float) -> float:
    """Highest threshold keeping each positive group's false abstentions within max_false."""
    limits = []
    for values in best.values():
        allowed = int(np.floor(len(values) * max_false))
        ordered = np.sort(values)
        limits.append(float(ordered[min(allowed, len(ordered) - 1)]))
    return round(min(limits) - 1e-4, 4) if limits else -99.0


def evaluate(rows: list[dict], n: int, weight: float, gap: float, max_false: float) -> dict:
    """Thresholds fitted per language, then accuracy, abstention and sentences read per group."""
    judged = [(r, *decide(r, n, weight, gap)[:2]) for r in rows]
    reads = [decide(r, n, weight, gap)[2] for r in rows if r["positive"] and r["answerable"]]
    fits = {}
    for lang in ("id", "en"):
        pos = {}
        for r, _, best in judged:
            if r["lang"] == lang and r["positive"] and r["answerable"] and r["support_ok"]:
                pos.setdefault(r["group"], []).append(best)
        fits[lang] = threshold_for({g: np.array(v) for g, v in pos.items() if len(v) >= 20}, max_false)
    groups: dict[str, dict] = {}
    for r, top_gold, best in judged:
        g = groups.setdefault(f"{r['group']} [{r['lang']}]", {"n": 0, "acc": 0, "ans": 0, "abst_neg": 0, "neg": 0,
                                                               "false_abst": 0})
        abstained = not r["support_ok"] or best < fits[r["lang"]]
        g["n"] += 1
        if r["answerable"] and r["positive"]:
            g["ans"] += 1
            g["acc"] += top_gold
            g["false_abst"] += abstained
        else:
            g["neg"] += 1
            g["abst_neg"] += abstained
    return {"candidates": n, "weight": weight, "gap": gap, "thresholds": fits,
            "read_share": round(float(np.mean(np.array(reads) > 0)), 3) if reads else None,
            "groups": {k: {"n": v["n"], "answer_acc": v["acc"] / v["ans"] if v["ans"] else None,
                           "false_abstention": v["false_abst"] / v["ans"] if v["ans"] else None,
                           "abstain_unanswerable": v["abst_neg"] / v["neg"] if v["neg"] else None}
                       for k, v in groups.items()}}


def gather(engine_for, reader, shared: Path) -> list[dict]:
    """Rows for every dev group (positives: answerable over their corpus; negatives: off and on topic)."""
    seed_set, idk = load_dataset(SEED), load_dataset(shared / "idk-mrc-dev")
    tydi, bele = load_dataset(shared / "tydiqa-id"), load_dataset(shared / "belebele-id-en")
    bele_ans = [q for q in bele.questions if q.answerable]
    removed = remove_answers(tydi)
    ref, both = engine_for(seed_set.passages), engine_for(tydi.passages + bele.passages)
    rows = collect(engine_for(idk.passages), reader, list(idk.questions), "IDK-MRC dev", True)
    rows += collect(both, reader, list(tydi.questions), "TyDi", True)
    rows += collect(both, reader, bele_ans, "Belebele", True)
    rows += collect(ref, reader, list(seed_set.questions), "seed", True)
    rows += collect(ref, reader, list(tydi.questions), "TyDi / reference doc", False)
    rows += collect(ref, reader, bele_ans, "Belebele / reference doc", False)
    rows += collect(engine_for(removed.passages + bele.passages), reader, list(removed.questions),
                    "TyDi answers removed", False)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--rows", type=Path, default=Path("eval-out/reader-rows-v5.json"),
                        help="the pipeline's rows (reused if present, logits recomputed: delete to recollect)")
    parser.add_argument("--reader", default="bundled", help="'bundled', a model folder, or 'off' (rows without logits)")
    parser.add_argument("--max-false", type=float, default=0.08)
    args = parser.parse_args()
    if args.rows.exists():  # the pipeline's rows; the reader's logits are computed again from their texts
        rows = json.loads(args.rows.read_text())
        reader = load_reader(args.reader)
        for r in rows:
            r["logits"] = [round(float(x), 4) for x in reader.logits(r["question"], r["texts"])] if reader else []
    else:
        from index.embedders import make_embedder
        from qa.indexing import build_options
        from qa.settings import Settings

        settings = Settings()
        embedder = SharedQueries(make_embedder(settings.embedder, **settings.embedder_options()), size=10_000)
        opts = build_options(settings, False)
        config = replace(config_from_settings(settings), reader_candidates=DEPTH)
        reader = load_reader(args.reader)
        rows = gather(lambda p: Engine(embedder, config, index_passages(p, embedder, opts).store), reader, args.shared)
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        args.rows.write_text(json.dumps(rows))
    for n, w, gap in itertools.product(CANDIDATES, WEIGHTS, GAPS):
        for part in "AB":
            res = evaluate([r for r in rows if half(r) == part], n, w, gap, args.max_false)
            print(json.dumps({"half": part, **{k: res[k] for k in ("candidates", "weight", "gap", "read_share",
                                                                   "thresholds")}}))
            for name, g in res["groups"].items():
                print(f"   {name:34s} " + " ".join(f"{k}={v:.3f}" for k, v in g.items() if isinstance(v, float)))


if __name__ == "__main__":
    main()
