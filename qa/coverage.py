"""How much of a question's vocabulary a sentence covers, each word weighted by its rarity."""
from __future__ import annotations

import math

from index.lexical import tokenize
from index.store import IndexStore


def coverage(question: str, sentence: str, store: IndexStore, aliases: dict[str, str] | None = None) -> float:
    """IDF-weighted share of the question's words found in `sentence` (0..1).

    Frequencies come from the sentence BM25 index. A word the corpus never uses counts as
    missing with the highest weight: an Indonesian question about "Australia" over documents
    that never name it is off-topic, however close its embedding. English question words are
    out-of-corpus: `aliases` maps them to the corpus words qa.expand.bridge found for them.
    """
    aliases = aliases or {}
    words = {aliases.get(w, w) for w in tokenize(question)}  # a bridged word counts as its corpus word
    if not words:
        return 0.0
    index, have = store.sentence_lexical, set(tokenize(sentence))
    idf = {w: math.log((index.size + 1) / (index.document_frequency(w) + 0.5)) for w in words}
    total = sum(idf.values())
    return sum(v for w, v in idf.items() if w in have) / total if total > 0 else 0.0
