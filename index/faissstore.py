"""IndexStore: one build held in memory: documents, sentences, chunks, vectors, FAISS and BM25.

The FAISS + BM25 implementation of `index.protocol.Store`; index/store.py saves and loads it,
index/pgstore.py keeps the same data in PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
from scipy import sparse

from index.errors import StoreError
from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.protocol import Level
from index.types import Chunk, Document, Sentence
from index.vocab import lowercase_words


@dataclass
class IndexStore:
    """Everything needed to answer questions, held in memory: the FAISS + BM25 `index.protocol.Store`."""

    manifest: Manifest
    documents: list[Document]
    sentences: list[Sentence]  # all documents, in document order
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: faiss.Index
    lexical: LexicalIndex  # over chunks
    sentence_lexical: LexicalIndex  # over sentences, for picking evidence inside chunks
    vocab: list[str]  # corpus words, with vocab_vectors: see index/vocab.py
    vocab_vectors: np.ndarray
    path: Path | None = None
    chunk_sparse: sparse.csr_matrix | None = None  # latent terms per chunk (index/latent.py); None: no head
    sentence_sparse: sparse.csr_matrix | None = None  # ...and per sentence (None also for builds before v4)
    _word_pos: dict[str, int] = field(default_factory=dict, repr=False)
    _doc_pos: dict[str, int] = field(default_factory=dict, repr=False)
    _first_sentence: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._doc_pos = {d.doc_id: i for i, d in enumerate(self.documents)}
        self._word_pos = {w: i for i, w in enumerate(self.vocab)}
        for i, s in enumerate(self.sentences):
            self._first_sentence.setdefault(s.doc_id, i)

    def document(self, doc_id: str) -> Document | None:
        """The document with this id, or None."""
        pos = self._doc_pos.get(doc_id)
        return None if pos is None else self.documents[pos]

    def set_vocabulary(self, words: list[str], vectors: np.ndarray) -> None:
        """Attach the corpus vocabulary and its vectors."""
        self.vocab, self.vocab_vectors = words, vectors
        self._word_pos = {w: i for i, w in enumerate(words)}

    @cached_property
    def lowercase_words(self) -> frozenset[str]:
        """Words the documents write in lower case somewhere ("presiden", not "Widodo"); see index/vocab.py."""
        return lowercase_words([d.text for d in self.documents])

    def sentence_id(self, doc_id: str, index: int) -> int:
        """Position in `sentences` of a document's sentence number `index`."""
        return self._first_sentence[doc_id] + index

    def document_sentences(self, doc_id: str) -> list[Sentence]:
        """All sentences of one document, in order."""
        n = self.manifest.documents[doc_id].n_sentences
        first = self._first_sentence.get(doc_id, 0)
        return self.sentences[first : first + n]

    def search_dense(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk ids and cosine scores for a normalized query vector."""
        k = min(k, len(self.chunks))
        scores, ids = self.dense.search(np.asarray(query_vector, dtype=np.float32).reshape(1, -1), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query`."""
        return self.lexical.scores(query)

    def chunk_similarity(self, chunk_ids, query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed chunk with a normalized query vector."""
        return self.chunk_vectors[chunk_ids] @ query_vector

    def sentence_similarity(self, sentence_ids, query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed sentence with a normalized query vector."""
        return self.sentence_vectors[sentence_ids] @ query_vector

    def sentence_lexical_scores(self, query: str, sentence_ids) -> np.ndarray:
        """BM25 score, over all sentences, of each listed sentence for `query`."""
        return self.sentence_lexical.scores(query)[sentence_ids]

    def sentence_frequency(self, word: str) -> int:
        """How many sentences contain `word`."""
        return self.sentence_lexical.document_frequency(word)

    def has_word(self, word: str) -> bool:
        """Whether `word` is in the corpus vocabulary."""
        return word in self._word_pos

    def nearest_words(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """For each row of `vectors`, the closest vocabulary word and its cosine ([] without a vocabulary)."""
        if not len(self.vocab):
            return []
        sims = self.vocab_vectors @ np.asarray(vectors).T  # (vocab, rows)
        best = sims.argmax(axis=0)
        return [(self.vocab[int(i)], sims[i, j]) for j, i in enumerate(best)]

    def latent_terms(self, level: Level) -> sparse.csr_matrix | None:
        """Latent-term rows of every chunk or sentence, or None (no sparse head, or a build before v4)."""
        return self.chunk_sparse if level == "chunk" else self.sentence_sparse


def make_dense(vectors: np.ndarray, kind: str) -> faiss.Index:
    """Inner-product FAISS index: exact ('flat') or approximate ('hnsw')."""
    dim = vectors.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
    elif kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        raise StoreError(f"unknown dense index kind {kind!r}; use 'flat' or 'hnsw'")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index
