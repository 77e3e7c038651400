"""How much of a question's vocabulary a sentence covers, each word weighted by its rarity."""
from __future__ import annotations

import math
import threading
from collections import Counter

from index.lexical import tokenize
from index.store import IndexStore

_LOCK = threading.Lock()


def document_frequencies(store: IndexStore) -> tuple[Counter, int]:
    """Sentence frequency of every token in the store (computed once per loaded store)."""
    with _LOCK:
        found = getattr(store, "_sentence_df", None)  # kept on the store: it lives and dies with it
        if found is None:
            df: Counter = Counter()
            for s in store.sentences:
                df.update(set(tokenize(s.text)))
            found = store._sentence_df = (df, len(store.sentences))
    return found


def coverage(question: str, sentence: str, store: IndexStore) -> float:
    """IDF-weighted share of the question's words found in `sentence` (0..1).

    A word the corpus never uses counts as missing with the highest weight: an Indonesian
    question about "Australia" over documents that never name it is off-topic, however close
    its embedding. (English questions are not scored this way: their words are bridged, not
    matched; see qa.expand.)
    """
    df, n = document_frequencies(store)
    words = set(tokenize(question))
    if not words:
        return 0.0
    have = set(tokenize(sentence))
    idf = {w: math.log((n + 1) / (df.get(w, 0) + 0.5)) for w in words}
    total = sum(idf.values())
    return sum(v for w, v in idf.items() if w in have) / total if total > 0 else 0.0
