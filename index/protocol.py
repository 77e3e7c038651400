"""Store: what answering reads from an index, so a second kind of store has a place to go.

The FAISS + BM25 store (index/faissstore.py, `IndexStore`; saved by index/store.py) implements it; tests/index/test_store_contract.py
runs the same tests over every implementation. Ids are positions: chunk id i is `chunks[i]`,
sentence id j is `sentences[j]` (all documents, in document order); score arrays are float32.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from scipy import sparse

from index.manifest import Manifest
from index.types import Chunk, Document, Sentence

Level = Literal["chunk", "sentence"]


@runtime_checkable
class Store(Protocol):
    """Documents, their sentences and chunks, and the searches answering needs over them."""

    @property
    def manifest(self) -> Manifest:
        """What was built, from what, with which embedder (counts, per-document sentence counts)."""

    @property
    def documents(self) -> Sequence[Document]:
        """Every document, in index order."""

    @property
    def sentences(self) -> Sequence[Sentence]:
        """Every sentence, document by document."""

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, document by document."""

    @property
    def lowercase_words(self) -> frozenset[str]:
        """Words the documents write in lower case somewhere (see index/vocab.py)."""

    def document(self, doc_id: str) -> Document | None:
        """The document with this id, or None."""

    def document_sentences(self, doc_id: str) -> Sequence[Sentence]:
        """All sentences of one document, in order."""

    def sentence_id(self, doc_id: str, index: int) -> int:
        """Sentence id of a document's sentence number `index`."""

    def search_dense(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk ids and cosine scores for a normalized query vector, best first."""

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros where no query word occurs)."""

    def chunk_similarity(self, chunk_ids: Sequence[int], query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed chunk with a normalized query vector."""

    def sentence_similarity(self, sentence_ids: Sequence[int], query_vector: np.ndarray) -> np.ndarray:
        """Cosine of each listed sentence with a normalized query vector."""

    def sentence_lexical_scores(self, query: str, sentence_ids: Sequence[int]) -> np.ndarray:
        """BM25 score, over all sentences, of each listed sentence for `query`."""

    def sentence_frequency(self, word: str) -> int:
        """How many sentences contain `word` (a token of index.lexical.tokenize)."""

    def has_word(self, word: str) -> bool:
        """Whether `word` is in the corpus vocabulary (index/vocab.py)."""

    def nearest_words(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """For each row of `vectors`, the closest vocabulary word and its cosine; [] without a vocabulary."""

    def latent_terms(self, level: Level) -> sparse.csr_matrix | None:
        """Latent-term rows (index/latent.py) of every chunk or sentence, or None when the build has none."""
