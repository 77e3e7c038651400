"""The corpus vocabulary with one embedding per word, for cross-lingual lexical matching.

An English question shares few words with Indonesian text, so BM25 sees almost
nothing; mapping each question word to its nearest corpus words in the embedding
space (proud -> bangga, pandemic -> covid) gives the lexical side Indonesian terms.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from index.embedders.base import Embedder
from index.lexical import tokenize

WORD = re.compile(r"[^\W\d_]{3,}")  # alphabetic tokens of 3+ letters; numbers match exactly anyway
LETTERS = re.compile(r"[^\W\d_]{2,}")  # an initial ("S. Miyoshi") is no word


def vocabulary(texts: list[str]) -> list[str]:
    """Sorted distinct alphabetic tokens (3+ letters, no stop words) of `texts`."""
    words: set[str] = set()
    for t in texts:
        words.update(w for w in tokenize(t) if WORD.fullmatch(w))
    return sorted(words)


def embed_vocabulary(words: list[str], embedder: Embedder, known: Mapping[str, np.ndarray],
                     progress=None) -> tuple[np.ndarray, int]:
    """Vectors for `words` (as queries), reusing `known` ones; returns (matrix, newly embedded)."""
    missing = [w for w in words if w not in known]
    fresh: dict[str, np.ndarray] = {}
    if getattr(embedder, "distributed", False):  # a cluster: one job for all words, its actors load the model once
        fresh.update(zip(missing, embedder.embed_queries(missing, progress=progress)))
        return _matrix(words, known, fresh, embedder.dim), len(missing)
    for i in range(0, len(missing), 256):  # slices, so a progress bar can move
        part = missing[i : i + 256]
        fresh.update(zip(part, embedder.embed_queries(part)))
        if progress:
            progress(len(part))
    return _matrix(words, known, fresh, embedder.dim), len(missing)


def _matrix(words: list[str], known: Mapping[str, np.ndarray], fresh: dict[str, np.ndarray], dim: int) -> np.ndarray:
    rows = [known[w] if w in known else fresh[w] for w in words]
    return np.array(rows, dtype=np.float32).reshape(len(words), dim)


def lowercase_words(texts: list[str]) -> frozenset[str]:
    """Words the texts write in lower case somewhere: common words, even where a title capitalises them."""
    return frozenset(w for t in texts for w in LETTERS.findall(t) if w.islower())
