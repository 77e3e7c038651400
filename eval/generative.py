"""`qa eval --mode generative`: the pipeline's answer rewritten by a language model, then measured.

The wrapped system asks the full pipeline (in-process or over HTTP) and then the LLM endpoint
named by the QA_LLM_* settings, exactly as POST /api/chat does in generative mode. Per question
it records whether the model's answer was shown or fell back (and why); the summary gives the
fallback rate, citation validity of the model's answers, answer language, accuracy and latency.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Sequence

from eval.datasets import EvalQuestion
from eval.metrics import bool_rate, contains_gold, percentile
from eval.systems import Outcome, System
from qa.compose import compose
from qa.generate import LLMConfig, checked, generate_answer
from qa.language import detect_language
from qa.numbers import number_mentions
from qa.types import Answer, Citation
from qa.verify import strip_markers

CITATION_REASONS = ("no_citation", "citation_out_of_range")
ENDPOINT_REASONS = ("timeout", "endpoint_error", "bad_response", "not_configured")


def citation_of(fields: dict) -> Citation:
    """A Citation back from its JSON; `page` may be missing (results written before it existed)."""
    return Citation(**{k: fields[k] for k in Citation.__dataclass_fields__ if k in fields})


def to_answer(out: Outcome) -> Answer:
    """The pipeline's Answer back from an Outcome (citations as the API returns them)."""
    citations = tuple(citation_of(c) for c in out.citations)
    return Answer(answer=out.answer or "", language=out.language or "id", abstained=bool(out.abstained),
                  citations=citations, timings_ms=dict(out.timings_ms or {}))


def generative(system: System, llm: LLMConfig) -> System:
    """`system` (the full pipeline) followed by generate_answer, as the API's generative mode."""
    def ask(question: str) -> Outcome:
        out = system(question)
        t0 = time.perf_counter()
        ans = generate_answer(question, to_answer(out), llm)
        spent = round((time.perf_counter() - t0) * 1000, 2)
        return replace(out, answer=ans.answer, abstained=ans.abstained, timings_ms=ans.timings_ms,
                       latency_ms=out.latency_ms + spent,
                       mode=ans.mode, fallback=ans.fallback, fallback_reason=ans.fallback_reason, draft=ans.draft)

    return ask


def gold_match(text: str | None, answers: Sequence[str]) -> bool:
    """Gold answer in the text, or (for numbers) the same values in another form: 'delapan' = 'eight'."""
    if contains_gold(text, answers):
        return True
    said = {v for _, vs in number_mentions(strip_markers(text or "")) for v in vs}
    for gold in answers:
        values = [vs for _, vs in number_mentions(gold)]
        if values and all(vs & said for vs in values):
            return True
    return False


def generation_metrics(q: EvalQuestion, out: Outcome) -> dict:
    """Per-question generative fields for the result row."""
    shown = strip_markers(out.answer or "")
    generated = not out.abstained and not out.fallback
    declined = bool(out.abstained and out.draft is not None)  # retrieval's abstentions never ask the model
    return {"mode": out.mode, "fallback": out.fallback, "fallback_reason": out.fallback_reason,
            "draft": out.draft, "generated": generated, "declined": declined,
            "answer_language_ok": None if out.abstained else detect_language(shown) == q.lang,
            "gold_match": gold_match(out.answer, q.answers) if q.answerable else None,
            "generate_ms": (out.timings_ms or {}).get("generate")}


def summarize_generation(rows: Sequence[dict]) -> dict:
    """Fallback rate and reasons, citation validity, language, accuracy and latency of generation."""
    asked = [r for r in rows if not r.get("abstained") or r.get("declined")]  # never asked after abstaining
    generated = [r for r in asked if r.get("generated")]
    declined = [r for r in asked if r.get("declined")]
    reasons = Counter(r["fallback_reason"] for r in asked if r.get("fallback"))
    # replies that answered: not an endpoint failure, not "not in the sources" (which cites nothing)
    answered_by_model = len(asked) - sum(reasons[k] for k in ENDPOINT_REASONS) - len(declined)
    gen_ms = [r["generate_ms"] for r in asked if r.get("generate_ms") is not None]
    return {
        "n": len(rows), "asked": len(asked), "generated": len(generated),
        "declined": len(declined), "declined_answerable": sum(1 for r in declined if r.get("answerable")),
        "fallback_rate": round(sum(reasons.values()) / len(asked), 3) if asked else None,
        "fallback_reasons": dict(reasons.most_common()),
        "citation_validity": round(1 - sum(reasons[k] for k in CITATION_REASONS) / answered_by_model, 3)
        if answered_by_model else None,
        "language_ok_shown": bool_rate(r.get("answer_language_ok") for r in asked),
        "language_ok_generated": bool_rate(r.get("answer_language_ok") for r in generated),
        "accuracy_shown": bool_rate(r.get("gold_match") for r in asked),
        "accuracy_generated": bool_rate(r.get("gold_match") for r in generated),
        "unanswerable_generated": sum(1 for r in generated if not r.get("answerable")),
        "generate_p50_ms": percentile(gen_ms, 50), "generate_p95_ms": percentile(gen_ms, 95),
        "latency_p50_ms": percentile([r["latency_ms"] for r in asked], 50),
    }


def generation_table(summary: dict) -> str:
    """The summary as a two-column markdown table."""
    rows = [f"| {key} | {_cell(value)} |" for key, value in summary.items()]
    return "\n".join(["| generative | value |", "|---|---:|", *rows])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value:.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "–"
    return "–" if value is None else str(value)


def reverify(rows: Sequence[dict]) -> list[dict]:
    """Rows re-judged by the current verifier from their stored drafts, without asking the model.

    For tuning qa/verify.py against a finished run (results.json): endpoint failures and
    retrieval's abstentions stay as they were; the shown answer becomes the draft or the extractive
    one, or the abstention when the draft says the sources lack the answer.
    """
    out = []
    for r in rows:
        if r.get("draft") is None or (r.get("abstained") and not r.get("declined")):
            out.append(r)
            continue
        citations = tuple(citation_of(c) for c in r["citations"])
        language = r["detected_language"]
        extractive = Answer(answer=compose(citations, language, abstained=False), language=language,
                            abstained=False, citations=citations)
        ans = checked(r["draft"], extractive, time.perf_counter())
        q = EvalQuestion(id=r["id"], lang=r["lang"], question=r["question"], passage_id=r["passage_id"],
                         answers=tuple(r["answers"]))
        outcome = Outcome(docs=r["retrieved"], latency_ms=r["latency_ms"], answer=ans.answer, abstained=ans.abstained,
                          language=language, timings_ms=r.get("timings_ms"), mode=ans.mode,
                          fallback=ans.fallback, fallback_reason=ans.fallback_reason, draft=ans.draft)
        out.append({**r, "answer": ans.answer, "abstained": ans.abstained, **generation_metrics(q, outcome)})
    return out
