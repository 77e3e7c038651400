"""BM25 over chunks with a tokenizer for Indonesian and English text."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

_BM25S_LEVEL = logging.getLogger("bm25s").level
import bm25s  # noqa: E402 - sets its logger to DEBUG on import; the level chosen before it is restored below
import numpy as np  # noqa: E402

logging.getLogger("bm25s").setLevel(_BM25S_LEVEL)

# Numbers keep their inner separators so "4.0", "2016-2020" and "1,5" stay one token.
TOKEN = re.compile(r"\d+(?:[.,\-]\d+)*|[^\W\d_]+(?:\d+)?", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Indonesian and English stop words from the `stop-words` package."""
    from stop_words import get_stop_words

    return frozenset(get_stop_words("id")) | frozenset(get_stop_words("en"))


def tokenize(text: str) -> list[str]:
    """Lowercase word and number tokens without stop words."""
    text = unicodedata.normalize("NFKC", text).lower()
    stop = stopwords()
    return [t for t in TOKEN.findall(text) if t not in stop]


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts."""

    def __init__(self, model: bm25s.BM25, size: int):
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        """Index `texts`; row i of every score vector is texts[i]."""
        model = bm25s.BM25()
        # an empty token list would break bm25s; a placeholder token never matches a query
        model.index([tokenize(t) or ["\u2400"] for t in texts], show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text for `query` (zeros when nothing matches)."""
        tokens = [t for t in tokenize(query) if t in self._model.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)

    def document_frequency(self, token: str) -> int:
        """How many indexed texts contain `token` (a token from `tokenize`); read off the BM25 matrix."""
        i = self._model.vocab_dict.get(token)
        indptr = self._model.scores["indptr"]
        return int(indptr[i + 1] - indptr[i]) if i is not None and i + 1 < len(indptr) else 0

    def postings(self) -> Iterator[tuple[str, int, float]]:
        """(token, row, BM25 score) of every token in every indexed text: what `scores` sums for a query."""
        model = self._model
        token = {i: t for t, i in model.vocab_dict.items()}
        indptr, indices, data = (model.scores[k] for k in ("indptr", "indices", "data"))
        for j in range(len(indptr) - 1):
            for k in range(indptr[j], indptr[j + 1]):
                yield token[j], int(indices[k]), float(data[k])

    def save(self, directory: Path) -> None:
        """Write the index files into `directory`."""
        self._model.save(str(directory))

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        """Read an index written by `save`."""
        return cls(bm25s.BM25.load(str(directory)), size)
