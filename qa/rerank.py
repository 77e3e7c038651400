"""Rerank the best candidate sentences with the learned reader, and say how answerable the question is."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa.reader import passage_text
from qa.select import ScoredSentence


@dataclass(frozen=True)
class Judged:
    """The reader's verdict on the candidates: their logits (in the new order) and the best one."""

    logits: tuple[float, ...]
    best: float  # highest logit among the candidates: does any of them answer the question?


def reader_text(store, doc_id: str, sentence: str) -> str:
    """What the reader reads for a sentence of `doc_id`: the sentence under its document's title.

    A title that is only the file's name is left out: the reader learned real titles, and a file
    name cost it 1 of the 20 English seed questions (docs/reader.md).
    """
    doc = store.document(doc_id)
    title = doc.title if doc and doc.title != Path(doc_id).stem else ""
    return passage_text(title, sentence)


def candidate_texts(ranked: list[ScoredSentence], store, n: int) -> list[str]:
    """What the reader reads for each of the first `n` candidates."""
    return [reader_text(store, sent.doc_id, sent.text) for sent in (store.sentences[s.sentence_id] for s in ranked[:n])]


def reader_order(logits: np.ndarray, scores, weight: float) -> np.ndarray:
    """Candidate positions by reader logit + weight x pipeline score, best first (ties keep pipeline order)."""
    combined = np.asarray(logits, dtype=np.float32) + weight * np.asarray(scores, dtype=np.float32)
    return np.argsort(-combined, kind="stable")


def needs_reading(ranked: list[ScoredSentence], candidates: int, gap: float) -> int:
    """How many candidates the reader must read: none when the pipeline's first two are `gap` or more apart.

    The reader is a model pass per sentence, dearer than the whole pipeline; past that gap its logit
    rarely reorders them (eval.reader_fit), so it is asked where it can change the answer.
    """
    if len(ranked) < 2 or ranked[0].score - ranked[1].score >= gap:
        return 0
    return min(candidates, len(ranked))


def rerank(question: str, ranked: list[ScoredSentence], store, reader, *, candidates: int, weight: float,
           gap: float = float("inf"), judge: bool = False) -> tuple[list[ScoredSentence], Judged | None]:
    """The first `candidates` sentences ordered by reader logit + weight x pipeline score; the rest after.

    The reader reads them only when the first two are closer than `gap` (see `needs_reading`); else it
    reads the first alone if `judge` (its logit decides abstention), or nothing (Judged None).
    Each keeps the score of the position it moves to, so scores still fall with rank on one scale.
    """
    n = needs_reading(ranked, candidates, gap) or (1 if judge and ranked else 0)
    if n == 0:
        return ranked, None
    top = ranked[:n]
    logits = reader.logits(question, candidate_texts(ranked, store, n))
    order = reader_order(logits, [s.score for s in top], weight)
    judged = Judged(tuple(round(float(logits[i]), 4) for i in order), float(logits.max()))
    moved = [replace(top[i], score=slot.score) for i, slot in zip(order, top)]
    return moved + ranked[n:], judged
