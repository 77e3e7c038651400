"""Pick the sentences that best support an answer from inside the retrieved chunks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.protocol import Store
from qa.answer_type import type_match
from qa.types import Citation, Passage


@dataclass(frozen=True)
class ScoredSentence:
    sentence_id: int  # position in store.sentences
    score: float  # ranking score (sentence similarity blended with its chunk's fused score)
    similarity: float  # raw cosine between question and sentence
    lexical: float = 0.0  # raw BM25 of the sentence for the (expanded) question
    typed: bool | None = None  # holds the asked-for kind of answer (None: the question asks for no kind)


def score_sentences(question: str, passages: list[Passage], query_vector: np.ndarray, store: Store, *,
                    alpha: float, passages_used: int = 5, sentence_weight: float = 0.5,
                    kind: str | None = None, type_weight: float = 0.0) -> list[ScoredSentence]:
    """Rank sentences of the top passages.

    A sentence's score blends its own similarity to the question with its best
    chunk's fused score (context: a sentence alone often lacks the words the
    question uses) and, weighted by the language's `alpha`, its BM25 score.
    """
    best_chunk: dict[int, float] = {}
    for p in passages[:passages_used]:
        chunk = store.chunks[p.chunk_id]
        for idx in chunk.sentences:
            sid = store.sentence_id(chunk.doc_id, idx)
            best_chunk[sid] = max(best_chunk.get(sid, -1.0), p.score)
    if not best_chunk:
        return []
    ids = np.fromiter(best_chunk, dtype=np.int64)
    sims = store.sentence_similarity(ids, query_vector)
    dense = sentence_weight * minmax(sims) + (1 - sentence_weight) * np.array([best_chunk[int(i)] for i in ids])
    lexical = store.sentence_lexical_scores(question, ids)
    top = float(lexical.max()) if len(lexical) else 0.0
    scores = (1 - alpha) * dense + alpha * (lexical / top if top > 0 else lexical)
    typed = [type_match(store.sentences[int(i)].text, kind, question) if kind else None for i in ids]
    if kind:  # a "when" question is better served by a sentence that holds a date
        scores = scores + type_weight * np.array(typed, dtype=np.float32)
    order = np.argsort(-scores, kind="stable")
    return [ScoredSentence(int(ids[j]), float(scores[j]), float(sims[j]), float(lexical[j]), typed[j])
            for j in order]


def minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (all ones when every value is equal)."""
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def support(best: ScoredSentence, *, lexical_weight: float, lexical_cap: float, type_penalty: float = 0.0,
            coverage: float | None = None, coverage_weight: float = 0.0) -> float:
    """How well the best sentence supports an answer: its cosine plus a lexical bonus.

    Off-topic questions can reach a fair cosine against any sentence, but they rarely share
    words with it. The bonus is `coverage_weight` x the share of question words the sentence
    covers (qa.coverage) when given, else a capped BM25 bonus (shared or bridged words).
    """
    if coverage is not None:
        bonus = coverage_weight * coverage
    else:
        bonus = lexical_weight * min(best.lexical, lexical_cap)
    penalty = type_penalty if best.typed is False else 0.0  # "how much" answered by a sentence without a number
    return best.similarity + bonus - penalty


def cite(ranked: list[ScoredSentence], store: Store, top_k: int) -> tuple[Citation, ...]:
    """Citations n = 1..top_k for the best sentences, with offsets checked against the source."""
    out = []
    for n, s in enumerate(ranked[:top_k], start=1):
        sent = store.sentences[s.sentence_id]
        doc = store.document(sent.doc_id)
        if doc is None or doc.text[sent.start : sent.end] != sent.text:
            raise AssertionError(f"sentence offsets do not match {sent.doc_id}; rebuild the index")
        out.append(Citation(n=n, doc_id=sent.doc_id, sentence_index=sent.index, text=sent.text,
                            start=sent.start, end=sent.end, score=round(s.score, 4), page=doc.page_at(sent.start)))
    return tuple(out)
