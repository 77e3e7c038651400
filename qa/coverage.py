"""How much of a question a sentence covers: its words, each weighted by its rarity, and its latent terms."""
from __future__ import annotations

import math

from scipy import sparse

from index.lexical import tokenize
from index.protocol import Store


def coverage(question: str, sentence: str, store: Store, aliases: dict[str, str] | None = None) -> float:
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
    size, have = len(store.sentences), set(tokenize(sentence))
    idf = {w: math.log((size + 1) / (store.sentence_frequency(w) + 0.5)) for w in words}
    total = sum(idf.values())
    return sum(v for w, v in idf.items() if w in have) / total if total > 0 else 0.0


def latent_overlap(question_terms: sparse.csr_matrix, sentence_terms: sparse.csr_matrix) -> float:
    """Cosine between a question's and a sentence's latent terms (index/latent.py), 0..1.

    The features are shared across languages, so an English question and the Indonesian
    sentence that answers it light up many of the same ones, where word coverage only sees
    the few words the lexical bridge maps.
    """
    dot = float(question_terms.multiply(sentence_terms).sum())
    norms = math.sqrt(float(question_terms.multiply(question_terms).sum())
                      * float(sentence_terms.multiply(sentence_terms).sum()))
    return dot / norms if norms > 0 else 0.0
