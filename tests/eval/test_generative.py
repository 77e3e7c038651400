"""Generative-mode evaluation: the wrapper over a system, per-question fields and the summary."""
from __future__ import annotations

import pytest
from fake_llm import serve_fake

from eval.datasets import EvalQuestion
from eval.generative import gold_match, generation_metrics, generative, reverify, summarize_generation
from eval.systems import Outcome
from qa.generate import LLMConfig

SENTENCE = "Bali Agenda on Industry 4.0 yang juga berisikan delapan poin strategi implementasi industri 4.0."
CITATION = {"n": 1, "doc_id": "d", "sentence_index": 0, "text": SENTENCE, "start": 0, "end": len(SENTENCE),
            "score": 0.9}
QUESTION = EvalQuestion(id="q1", lang="en", question="How many points?", passage_id="d", answers=("delapan",))


def pipeline(question: str) -> Outcome:
    return Outcome(docs=["d"], latency_ms=10.0, answer=f"According to the documents: {SENTENCE} [1]",
                   abstained=False, language="en", citations=[CITATION],
                   timings_ms={"retrieve": 5.0, "answer": 1.0, "total": 6.0})


@pytest.mark.parametrize("text, answers, expected", [
    ("It has eight points [1].", ["delapan"], True), ("It has 8 points.", ["delapan poin"], True),
    ("Ia berisi delapan poin.", ["delapan"], True), ("It has nine points.", ["delapan"], False),
    ("Dody Widodo", ["Dody Widodo"], True), ("Someone else", ["Dody Widodo"], False),
])
def test_gold_match_reads_numbers_across_languages(text, answers, expected):
    assert gold_match(text, answers) is expected


def test_wrapped_system_generates_and_reports_fallbacks():
    with serve_fake() as fake:
        ask = generative(pipeline, LLMConfig(base_url=fake.url, model="m", timeout_s=10))
        fake.set(reply="The Bali Agenda contains eight strategy points [1].")
        good = ask("How many points?")
        fake.set(reply="The Bali Agenda contains 9 strategy points [1].")
        bad = ask("How many points?")
        fake.set(reply="NOT IN SOURCES")
        declining = ask("How many points?")
    assert (good.mode, good.fallback, good.answer) == ("generative", False, "The Bali Agenda contains eight strategy points [1].")
    assert good.latency_ms > 10.0 and good.timings_ms["generate"] > 0
    assert (bad.fallback, bad.fallback_reason) == (True, "unsupported_number")
    row = generation_metrics(QUESTION, good)
    assert (row["generated"], row["answer_language_ok"], row["gold_match"]) == (True, True, True)
    assert (declining.abstained, declining.fallback, declining.draft) == (True, False, "NOT IN SOURCES")
    row = generation_metrics(QUESTION, declining)
    assert (row["declined"], row["generated"], row["gold_match"]) == (True, False, False)
    assert generation_metrics(QUESTION, pipeline("?"))["declined"] is False


def test_summary_counts_fallbacks_and_citation_validity():
    rows = [
        {"abstained": False, "generated": True, "answerable": True, "answer_language_ok": True, "gold_match": True,
         "generate_ms": 1000.0, "latency_ms": 1100.0},
        {"abstained": False, "generated": False, "fallback": True, "fallback_reason": "citation_out_of_range",
         "answerable": True, "answer_language_ok": False, "gold_match": True, "generate_ms": 900.0, "latency_ms": 1000.0},
        {"abstained": False, "generated": False, "fallback": True, "fallback_reason": "timeout",
         "answerable": False, "answer_language_ok": False, "gold_match": None, "generate_ms": 3000.0, "latency_ms": 3100.0},
        {"abstained": True, "answerable": False, "latency_ms": 50.0},
        {"abstained": True, "declined": True, "generated": False, "answerable": False, "gold_match": None,
         "generate_ms": 500.0, "latency_ms": 600.0},
    ]
    s = summarize_generation(rows)
    assert (s["n"], s["asked"], s["generated"]) == (5, 4, 1)
    assert (s["declined"], s["declined_answerable"]) == (1, 0)
    assert s["fallback_rate"] == 0.5
    assert s["fallback_reasons"] == {"citation_out_of_range": 1, "timeout": 1}
    assert s["citation_validity"] == 0.5  # one of the two answers the model gave cited out of range
    assert (s["language_ok_generated"], s["accuracy_shown"], s["unanswerable_generated"]) == (1.0, 1.0, 0)


def test_reverify_rejudges_stored_drafts_without_the_model():
    row = {"id": "q1", "lang": "en", "question": "How many points?", "passage_id": "d", "answers": ["delapan"],
           "answerable": True, "retrieved": ["d"], "latency_ms": 10.0, "detected_language": "en",
           "abstained": False, "citations": [CITATION], "fallback": True, "fallback_reason": "unsupported_name",
           "draft": "The Bali Agenda contains eight strategy points [1].", "generated": False}
    again = reverify([row])[0]
    assert (again["fallback"], again["fallback_reason"], again["generated"]) == (False, None, True)
    assert again["answer"] == row["draft"] and again["gold_match"] is True
    assert reverify([{**row, "abstained": True}])[0]["fallback_reason"] == "unsupported_name"  # left alone
    declining = reverify([{**row, "draft": "NOT IN SOURCES", "abstained": True, "declined": True}])[0]
    assert (declining["abstained"], declining["declined"], declining["fallback"]) == (True, True, False)
