"""Hybrid retrieval: dense (FAISS) and BM25 over chunks, fused by score with a per-language weight;
latent terms (index/latent.py) break close calls between documents."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from index.protocol import Store
from qa.types import Passage


def fuse(dense: dict[int, float], lexical: np.ndarray, *, alpha: float) -> list[Passage]:
    """Combine min-max-scaled dense scores with max-scaled BM25 scores, weighted by `alpha`.

    Rank fusion gives a BM25 list of near-random matches the same weight as a good
    one, which ruins cross-lingual questions; score fusion lets a weak lexical
    side contribute little, and `alpha` is fitted per question language.
    """
    lex_top = np.flatnonzero(lexical > 0)
    ids = sorted(set(dense) | set(lex_top.tolist()))
    if not ids:
        return []
    d = np.array([dense.get(i, np.nan) for i in ids], dtype=np.float32)
    floor = np.nanmin(d) if np.isfinite(d).any() else 0.0
    d = np.where(np.isnan(d), floor, d)  # a chunk the dense side did not rank gets its worst score
    span = float(d.max() - d.min())
    d_scaled = (d - d.min()) / span if span > 0 else np.ones_like(d)
    lex = lexical[ids]
    top = float(lex.max())
    l_scaled = lex / top if top > 0 else np.zeros_like(lex)
    fused = (1 - alpha) * d_scaled + alpha * l_scaled
    order = np.argsort(-fused, kind="stable")
    return [Passage(chunk_id=ids[j], score=float(fused[j]), dense=float(d[j]), lexical=float(lex[j])) for j in order]


def retrieve(question: str, query_vector: np.ndarray, store: Store, *,
             alpha: float, candidates: int = 20) -> list[Passage]:
    """Chunks ranked for a question: dense top-`candidates` plus BM25 top-`candidates`, fused."""
    ids, scores = store.search_dense(query_vector, candidates)
    dense = {int(i): float(s) for i, s in zip(ids, scores)}
    lexical = store.lexical_scores(question) if alpha > 0 else np.zeros(len(store.chunks), np.float32)
    if lexical.any():
        keep = np.argpartition(-lexical, candidates)[:candidates] if len(lexical) > candidates else np.arange(len(lexical))
        mask = np.zeros_like(lexical)
        mask[keep] = lexical[keep]
        lexical = mask
        # dense scores for lexical-only candidates, so every fused chunk has both signals
        extra = [int(i) for i in keep if lexical[i] > 0 and int(i) not in dense]
        if extra:
            sims = store.chunk_similarity(extra, query_vector)
            dense.update({i: float(s) for i, s in zip(extra, sims)})
    return fuse(dense, lexical, alpha=alpha)


def contested(passages: list[Passage], store: Store, margin: float) -> bool:
    """Whether a chunk of another document scores within `margin` of the best chunk.

    A rival further behind is rarely overtaken by the latent-term bonus, so only close calls
    are worth the question's extra forward pass (~23 ms; the margin is fitted in docs/evaluation.md).
    """
    if not passages:
        return False
    top = store.chunks[passages[0].chunk_id].doc_id
    rival = next((p.score for p in passages if store.chunks[p.chunk_id].doc_id != top), None)
    return rival is not None and passages[0].score - rival < margin


def add_latent_terms(passages: list[Passage], scores: Mapping[int, float] | np.ndarray, *,
                     weight: float) -> list[Passage]:
    """Re-rank by fused score plus `weight` x each chunk's latent-term score (by chunk id) scaled by the best one."""
    if not passages:
        return passages
    mine = np.array([scores[p.chunk_id] for p in passages], dtype=np.float32)
    top = float(mine.max())
    bonus = weight * mine / top if top > 0 else np.zeros_like(mine)
    out = [replace(p, score=p.score + float(b)) for p, b in zip(passages, bonus)]
    return sorted(out, key=lambda p: -p.score)
