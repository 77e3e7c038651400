"""Rerank the best candidate sentences with the learned reader, and say how answerable the question is."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from qa.reader import passage_text
from qa.select import ScoredSentence


@dataclass(frozen=True)
class Judged:
    """The reader's verdict on the candidates: their logits (in the new order) and the best one."""

    logits: tuple[float, ...]
    best: float  # highest logit among the candidates: does any of them answer the question?


def reader_text(store, doc_id: str, sentence: str) -> str:
    """What the reader reads for a sentence of `doc_id`: the sentence under its document's title."""
    doc = store.document(doc_id)
    return passage_text(doc.title if doc else "", sentence)


def candidate_texts(ranked: list[ScoredSentence], store, n: int) -> list[str]:
    """What the reader reads for each of the first `n` candidates."""
    return [reader_text(store, sent.doc_id, sent.text) for sent in (store.sentences[s.sentence_id] for s in ranked[:n])]


def reader_order(logits: np.ndarray, scores, weight: float) -> np.ndarray:
    """Candidate positions by reader logit + weight x pipeline score, best first (ties keep pipeline order)."""
    combined = np.asarray(logits, dtype=np.float32) + weight * np.asarray(scores, dtype=np.float32)
    return np.argsort(-combined, kind="stable")


def rerank(question: str, ranked: list[ScoredSentence], store, reader, *, candidates: int,
           weight: float) -> tuple[list[ScoredSentence], Judged]:
    """The first `candidates` sentences ordered by reader logit + weight x pipeline score; the rest after.

    Each keeps the score of the position it moves to, so scores still fall with rank on one scale.
    """
    top = ranked[:candidates]
    logits = reader.logits(question, candidate_texts(ranked, store, candidates))
    order = reader_order(logits, [s.score for s in top], weight)
    judged = Judged(tuple(round(float(logits[i]), 4) for i in order), float(logits.max()))
    moved = [replace(top[i], score=slot.score) for i, slot in zip(order, top)]
    return moved + ranked[candidates:], judged
