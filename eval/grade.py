"""Grade one system's Outcome for one question into a per-question result dict (pure)."""
from __future__ import annotations

from eval.datasets import EvalQuestion
from eval.generative import generation_metrics
from eval.metrics import contains_gold
from eval.systems import Outcome


def gold_rank(passage_id: str, docs: list[str]) -> int | None:
    """1-based rank of the gold passage among retrieved documents; None when missing."""
    try:
        return docs.index(passage_id) + 1
    except ValueError:
        return None


def citation_valid(citation: dict, texts: dict[str, str]) -> bool:
    """The cited text is exactly the source passage's text at [start:end]."""
    text = texts.get(citation.get("doc_id"))
    start, end = citation.get("start"), citation.get("end")
    if text is None or not isinstance(start, int) or not isinstance(end, int):
        return False
    return 0 <= start <= end <= len(text) and text[start:end] == citation.get("text")


def gold_span(q: EvalQuestion, texts: dict[str, str]) -> tuple[int, int] | None:
    """Offsets of the gold sentence inside the gold passage; None when there is none."""
    gold = (q.gold_sentence_text or "").strip()
    start = texts.get(q.passage_id, "").find(gold) if gold else -1
    return (start, start + len(gold)) if start >= 0 else None


def inside(citation: dict, doc_id: str, span: tuple[int, int]) -> bool:
    """The citation lies within `span` of document `doc_id`.

    Containment rather than string equality: the splitter may cut a gold sentence
    in two, and either half still points the reader to the right place.
    """
    return (citation.get("doc_id") == doc_id and span[0] <= citation.get("start", -1)
            and citation.get("end", span[1] + 1) <= span[1])


def _answer_metrics(q: EvalQuestion, out: Outcome, texts: dict[str, str], cited: list[dict],
                    extractive: bool) -> dict:
    r: dict = {"citations_valid": all(citation_valid(c, texts) for c in out.citations) if out.citations else None}
    if not (extractive and q.answerable):
        return r
    # Citation content is graded even when the system abstained: it measures sentence
    # selection, while answer_contains_gold (the reply text) reflects abstention too.
    r["top1_contains_gold"] = contains_gold(cited[0]["text"], q.answers) if cited else False
    r["any_citation_contains_gold"] = any(contains_gold(c["text"], q.answers) for c in cited)
    r["answer_contains_gold"] = contains_gold(out.answer, q.answers)
    r["highlight"] = out.highlight["text"] if out.highlight else None
    if out.highlight and q.answers:  # the marked span and a gold answer overlap (one contains the other)
        mark = out.highlight["text"]
        r["highlight_matches_gold"] = any(contains_gold(mark, [a]) or contains_gold(a, [mark]) for a in q.answers)
    span = gold_span(q, texts)
    if span is not None:
        marks = [inside(c, q.passage_id, span) for c in cited]
        r["top1_is_gold_sentence"] = bool(marks and marks[0])
        r["gold_sentence_cited"] = any(marks)
    return r


def grade(q: EvalQuestion, out: Outcome, texts: dict[str, str], *, extractive: bool,
          n_cited: int) -> dict:
    """Per-question result: the eval.metrics.summarize keys plus what is needed to inspect it.

    `texts` maps passage id to passage text (the dataset, not the index); `n_cited` is
    how many citations count for the citation metrics (the API's default top_k).
    """
    r: dict = {"id": q.id, "question": q.question, "lang": q.lang, "answerable": q.answerable,
               "answers": list(q.answers), "passage_id": q.passage_id}
    if q.gold_sentence_text is not None:
        r["gold_sentence_text"] = q.gold_sentence_text
    if q.answerable:
        r["gold_rank"] = gold_rank(q.passage_id, out.docs)
    r["retrieved"] = out.docs
    r["latency_ms"] = out.latency_ms
    if out.answer is None:  # a retrieval-only system
        return r
    cited = sorted(out.citations, key=lambda c: c.get("n", 0))[:n_cited]
    r.update({"answer": out.answer, "detected_language": out.language, "abstained": out.abstained,
              "citations": out.citations, "timings_ms": out.timings_ms})
    r.update(_answer_metrics(q, out, texts, cited, extractive))
    if out.mode == "generative":
        r.update(generation_metrics(q, out))
    return r
