"""Metric functions against hand-worked examples, plus the Markdown report and plot."""
from __future__ import annotations

import json

import pytest

from eval.metrics import (
    abstention_scores,
    bool_rate,
    contains_gold,
    mrr_at_k,
    normalize,
    percentile,
    recall_at_k,
    summarize,
)
from eval.report import markdown_report, plot_recall, worst_failures, write_json


# --- normalize / contains_gold ---------------------------------------------------------

def test_normalize_quotes_case_space_edges():
    assert normalize("  “Bali  Agenda”,\n") == "bali agenda"
    assert normalize("Dody’s") == "dody's"
    assert normalize("Indonesia–UNIDO") == "indonesia-unido"
    # NFKC folds the full-width digits and ligature; accents stay.
    assert normalize("２０１８ ﬁnal café") == "2018 final café"
    # Inner punctuation is kept: only the edges are stripped.
    assert normalize("(Industri 4.0.)") == "industri 4.0"


def test_normalize_empty_and_punctuation_only():
    assert normalize("") == ""
    assert normalize(" ... ") == ""


def test_contains_gold():
    text = "Kerja sama “Indonesia–UNIDO” dimulai pada tahun 2018."
    assert contains_gold(text, ["indonesia-unido"])
    assert contains_gold(text, ["tidak ada", "Tahun 2018."])  # any answer suffices
    assert not contains_gold(text, ["2019"])
    assert not contains_gold(text, [])
    assert not contains_gold(None, ["2018"])
    assert not contains_gold("", ["2018"])
    # An answer that normalizes to nothing must not match everything.
    assert not contains_gold(text, ["..."])


# --- ranking ---------------------------------------------------------------------------

RANKS = [1, 3, None, 7, 2]


def test_recall_at_k_hand_worked():
    # k=1: only rank 1 -> 1/5 = 0.2
    assert recall_at_k(RANKS, 1) == pytest.approx(0.2)
    # k=3: ranks 1, 3, 2 -> 3/5 = 0.6
    assert recall_at_k(RANKS, 3) == pytest.approx(0.6)
    # k=10: 1, 3, 7, 2 (None never counts) -> 4/5 = 0.8
    assert recall_at_k(RANKS, 10) == pytest.approx(0.8)


def test_mrr_at_k_hand_worked():
    # k=10: (1/1 + 1/3 + 0 + 1/7 + 1/2) / 5 = (1 + 0.33333 + 0.142857 + 0.5) / 5 = 0.395238
    assert mrr_at_k(RANKS, 10) == pytest.approx((1 + 1 / 3 + 1 / 7 + 1 / 2) / 5)
    assert mrr_at_k(RANKS, 10) == pytest.approx(0.395238, abs=1e-6)
    # k=2: rank 7 and rank 3 drop out -> (1 + 1/2) / 5 = 0.3
    assert mrr_at_k(RANKS, 2) == pytest.approx(0.3)


def test_ranking_edge_cases():
    assert recall_at_k([], 5) is None
    assert mrr_at_k([], 5) is None
    assert recall_at_k([None, None], 5) == 0.0
    assert mrr_at_k([None, None], 5) == 0.0
    with pytest.raises(ValueError):
        recall_at_k([1], 0)


# --- abstention ------------------------------------------------------------------------

def test_abstention_scores_hand_worked():
    pairs = [
        (True, False),   # answered an answerable question: fine
        (True, True),    # false abstention
        (True, False),
        (False, True),   # correct abstention
        (False, False),  # missed abstention
        (False, True),   # correct abstention
    ]
    s = abstention_scores(pairs)
    # abstained: 3 (one answerable, two unanswerable) -> precision 2/3
    assert s["precision"] == pytest.approx(2 / 3)
    # unanswerable: 3, of which 2 abstained -> recall 2/3
    assert s["recall"] == pytest.approx(2 / 3)
    # answerable: 3, of which 1 abstained -> 1 false abstention, rate 1/3
    assert s["false_abstentions"] == 1
    assert s["false_abstention_rate"] == pytest.approx(1 / 3)
    assert (s["n_answerable"], s["n_unanswerable"], s["n_abstained"]) == (3, 3, 3)


def test_abstention_zero_denominators():
    s = abstention_scores([])
    assert s["precision"] is None and s["recall"] is None
    assert s["false_abstention_rate"] is None and s["false_abstentions"] == 0
    # Never abstained, nothing unanswerable: precision and recall undefined.
    s = abstention_scores([(True, False), (True, False)])
    assert s["precision"] is None and s["recall"] is None
    assert s["false_abstention_rate"] == 0.0


# --- percentile / bool_rate ------------------------------------------------------------

def test_percentile_linear_interpolation():
    values = [40.0, 10.0, 30.0, 20.0]  # sorted: 10 20 30 40
    # p50: pos = 3 * 0.5 = 1.5 -> 20 + 0.5 * (30 - 20) = 25
    assert percentile(values, 50) == pytest.approx(25.0)
    # p95: pos = 3 * 0.95 = 2.85 -> 30 + 0.85 * (40 - 30) = 38.5
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_bool_rate():
    assert bool_rate([True, None, False, True]) == pytest.approx(2 / 3)
    assert bool_rate([None, None]) is None
    assert bool_rate([]) is None


# --- summarize -------------------------------------------------------------------------

def row(lang, answerable, rank, abstained=False, top1=None, anycit=None, ans=None,
        valid=True, latency=10.0, **extra):
    return {"lang": lang, "answerable": answerable, "gold_rank": rank, "abstained": abstained,
            "top1_contains_gold": top1, "any_citation_contains_gold": anycit,
            "answer_contains_gold": ans, "citations_valid": valid, "latency_ms": latency, **extra}


RESULTS = [
    row("id", True, 1, top1=True, anycit=True, ans=True, latency=10.0),
    row("id", True, 4, top1=False, anycit=True, ans=False, latency=20.0),
    row("id", False, None, abstained=True, latency=30.0),
    row("en", True, None, abstained=True, top1=False, anycit=False, ans=False, latency=40.0),
    row("en", True, 2, top1=False, anycit=True, ans=True, valid=False, latency=50.0),
    row("en", False, 1, abstained=False, latency=60.0),
]


def test_summarize_overall_hand_worked():
    s = summarize(RESULTS)
    o = s["overall"]
    assert s["group_by"] == "lang" and sorted(s["groups"]) == ["en", "id"]
    assert (o["n"], o["n_answerable"], o["n_unanswerable"]) == (6, 4, 2)
    # answerable ranks: 1, 4, None, 2
    assert o["recall@1"] == pytest.approx(1 / 4)        # only rank 1
    assert o["recall@5"] == pytest.approx(3 / 4)        # 1, 4, 2
    assert o["recall@10"] == pytest.approx(3 / 4)
    assert o["mrr@10"] == pytest.approx((1 + 1 / 4 + 0 + 1 / 2) / 4)  # 0.4375
    # top1 over answerable: T, F, F, F -> 1/4; any-citation: T, T, F, T -> 3/4
    assert o["answer_sentence_acc"] == pytest.approx(0.25)
    assert o["any_citation_acc"] == pytest.approx(0.75)
    assert o["answer_contains_gold"] == pytest.approx(0.5)  # T, F, F, T
    # abstained: row 3 (unanswerable) and row 4 (answerable) -> precision 1/2
    assert o["abstention_precision"] == pytest.approx(0.5)
    assert o["abstention_recall"] == pytest.approx(0.5)  # unanswerable rows 3, 6: one abstained
    assert o["false_abstentions"] == 1
    assert o["false_abstention_rate"] == pytest.approx(0.25)
    assert o["citation_validity"] == pytest.approx(5 / 6)
    # latencies 10..60: p50 pos 2.5 -> 35; p95 pos 4.75 -> 50 + 0.75 * 10 = 57.5
    assert o["latency_p50_ms"] == pytest.approx(35.0)
    assert o["latency_p95_ms"] == pytest.approx(57.5)


def test_summarize_per_language():
    en = summarize(RESULTS)["groups"]["en"]
    assert en["n"] == 3
    assert en["recall@1"] == 0.0 and en["recall@5"] == pytest.approx(0.5)  # None, 2
    assert en["abstention_precision"] == 0.0  # the one abstention was on an answerable question
    assert en["abstention_recall"] == 0.0
    idg = summarize(RESULTS)["groups"]["id"]
    assert idg["abstention_precision"] == 1.0 and idg["false_abstentions"] == 0


def test_summarize_all_none_and_empty():
    rows = [row("id", True, 3, top1=None, anycit=None, ans=None, valid=None, latency=None)]
    o = summarize(rows)["overall"]
    assert o["answer_sentence_acc"] is None and o["any_citation_acc"] is None
    assert o["answer_contains_gold"] is None and o["citation_validity"] is None
    assert o["latency_p50_ms"] is None and o["recall@5"] == 1.0
    # gold_rank left out entirely means "not measured", not "missed".
    assert summarize([{"lang": "en", "answerable": True}])["overall"]["recall@1"] is None
    empty = summarize([])
    assert empty["overall"]["n"] == 0 and empty["groups"] == {}
    assert empty["overall"]["recall@1"] is None and empty["overall"]["abstention_precision"] is None


# --- report ----------------------------------------------------------------------------

def make_run() -> dict:
    results = [
        dict(r, id=f"q{i}", question=f"Pertanyaan nomor {i}?", answers=[f"jawab|{i}"],
             answer="…", citations=[{"n": 1, "doc_id": "d", "text": f"kalimat {i} " * 40,
                                     "start": 0, "end": 10, "score": 0.5}])
        for i, r in enumerate(RESULTS)
    ]
    curve = {k: min(1.0, 0.25 * k) for k in range(1, 11)}
    system = {"summary": summarize(results), "recall_curve": curve, "results": results,
              "build": {"seconds": 1.5, "passages": 10, "chunks": 30, "throughput_per_s": 6.7}}
    return {"dataset": "tiny", "systems": {"bm25": system, "full": system}}


def test_worst_failures_order():
    worst = worst_failures(make_run()["systems"]["full"]["results"])
    # answerable failures: q3 (missed), q1 (rank 4), q4 (rank 2, wrong top1); q0 is a success.
    assert [r["id"] for r in worst] == ["q3", "q1", "q4"]


def test_markdown_report_tables_and_failures():
    md = markdown_report(make_run(), plot_path="recall.png")
    assert md.startswith("# Evaluation: tiny")
    for heading in ("## Overall", "## lang: en", "## lang: id", "## Index build",
                    "## 10 worst failures", "### bm25", "### full", "## Recall@k"):
        assert heading in md
    assert "| system | n | R@1 | R@5 | R@10 | MRR@10 |" in md
    assert "| bm25 | 6 | 0.250 | 0.750 |" in md
    assert "![Recall@k](recall.png)" in md
    assert "built in 1.5 s, 10 passages, 30 chunks" in md
    assert "Pertanyaan nomor 3?" in md and "missed" in md and "(abstained)" in md
    assert "jawab\\|1" in md  # pipes escaped inside cells
    assert "Pertanyaan nomor 0?" not in md  # a success is not a failure
    assert "…" in md  # long citation text truncated


def test_markdown_report_empty_run():
    md = markdown_report({"dataset": "x", "systems": {}})
    assert "## Overall" in md and "## 10 worst failures" in md


def test_write_json_round_trip(tmp_path):
    run = make_run()
    path = write_json(tmp_path / "out" / "run.json", run)
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded["dataset"] == "tiny"
    # After JSON the curve keys are strings; the report still reads them.
    assert "| bm25 | 0.250 | 0.500 |" in markdown_report(loaded)


def test_plot_recall_writes_png(tmp_path):
    curves = {"bm25": {k: 0.1 * k for k in range(1, 11)}, "dense": {str(k): 0.05 * k for k in range(1, 11)}}
    path = plot_recall(curves, tmp_path / "plots" / "recall.png")
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_highlight_rate_and_accuracy_hand_worked():
    rows = [
        {"lang": "id", "answerable": True, "highlight": "2018", "highlight_matches_gold": True},
        {"lang": "id", "answerable": True, "highlight": "Jakarta", "highlight_matches_gold": False},
        {"lang": "id", "answerable": True, "highlight": None},
        {"lang": "id", "answerable": True, "highlight": None},
        {"lang": "id", "answerable": False, "highlight": "x"},  # unanswerable rows don't count
    ]
    overall = summarize(rows)["overall"]
    assert overall["highlight_rate"] == 0.5 and overall["highlight_acc"] == 0.5
    no_marks = summarize([{"lang": "id", "answerable": True}])["overall"]
    assert no_marks["highlight_rate"] is None and no_marks["highlight_acc"] is None
