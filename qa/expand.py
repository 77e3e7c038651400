"""Bridge question words to corpus words through the embedding space (cross-lingual BM25)."""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from index.embedders import Embedder
from index.lexical import tokenize
from index.protocol import Store
from index.vocab import WORD


class WordVectors:
    """Embeddings of single words, with a bounded LRU cache (words repeat across questions)."""

    def __init__(self, embedder: Embedder, capacity: int = 20000):
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, words: list[str]) -> dict[str, np.ndarray]:
        """Vectors for `words`, embedding the uncached ones in one batch."""
        with self._lock:
            out = {w: self._cache[w] for w in words if w in self._cache}
            for w in out:
                self._cache.move_to_end(w)
        missing = [w for w in dict.fromkeys(words) if w not in out]
        if missing:
            fresh = dict(zip(missing, self.embedder.embed_queries(missing)))
            out.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return out


def bridge(question: str, store: Store, words: WordVectors, *, threshold: float) -> dict[str, str]:
    """Each out-of-corpus question word mapped to the corpus word nearest to it (cosine >= threshold)."""
    unknown = [w for w in dict.fromkeys(tokenize(question)) if WORD.fullmatch(w) and not store.has_word(w)]
    if not unknown:
        return {}
    vectors = words.get(unknown)
    nearest = store.nearest_words(np.stack([vectors[w] for w in unknown]))
    return {w: word for w, (word, sim) in zip(unknown, nearest) if sim >= threshold}
