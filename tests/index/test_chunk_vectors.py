"""Chunk vectors and latent terms made from their sentences' passes (index/chunk_vectors.py, recipe v6).

An option (QA_CHUNK_VECTORS=sentences): the default builds each chunk with a pass of its own (v5).
"""
import numpy as np
import pytest
from scipy import sparse

from index import chunk_vectors
from index.build import BuildOptions, build_store, in_context
from index.documents import load_documents
from index.embedders.base import normalize
from index.manifest import COMPOSED_RECIPE, EMBED_RECIPE
from two_documents import docs  # noqa: F401 (a fixture)

OPTS = BuildOptions(show_progress=False, chunk_vectors="sentences")


@pytest.fixture(scope="module")
def built(docs, embedder):
    return build_store(load_documents([docs]), embedder, OPTS)


def sentence_texts(store, chunk):
    doc = store.document(chunk.doc_id)
    return [in_context(doc, store.sentences[store.sentence_id(chunk.doc_id, i)].text) for i in chunk.sentences]


def test_a_chunk_vector_is_the_token_weighted_mean_of_its_sentences_own_passes(built, embedder):
    """Computed another way: each sentence embedded alone, weighted by the tokens its pass pooled."""
    multi = [(j, c) for j, c in enumerate(built.chunks) if len(c.sentences) > 1]
    assert multi, "the fixture needs a chunk of several sentences"
    for j, chunk in multi:
        texts = sentence_texts(built, chunk)
        weights = np.array([embedder.token_count(t) for t in texts], np.float32)
        expected = normalize((weights[:, None] * embedder.embed_passages(texts)).sum(0, keepdims=True))[0]
        assert np.allclose(built.chunk_vectors[j], expected, atol=1e-5)
        own = embedder.embed_passages([in_context(built.document(chunk.doc_id), chunk.text)])[0]
        assert float(built.chunk_vectors[j] @ own) > 0.9  # close to a pass over the chunk (0.97 on TyDi)


def test_a_chunks_latent_terms_are_the_largest_of_its_sentences(built, embedder):
    for j, chunk in enumerate(built.chunks):
        _, terms = embedder.embed_passages_sparse(sentence_texts(built, chunk))
        largest = terms.toarray().max(axis=0)
        keep = np.argsort(-largest, kind="stable")[:chunk_vectors.SPARSE_TERMS]
        expected = np.zeros_like(largest)
        expected[keep] = largest[keep]
        assert np.array_equal(built.chunk_sparse[j].toarray()[0], expected)


def test_no_chunk_is_embedded_on_its_own(built, embedder):
    assert built.manifest.embed_recipe == COMPOSED_RECIPE
    assert built.manifest.embedded_texts == len(built.sentences) + built.manifest.counts["vocabulary_embedded"]


def test_own_chunk_passes_are_the_default(docs, built, embedder):
    own = build_store(load_documents([docs]), embedder, BuildOptions(show_progress=False))
    assert own.manifest.embed_recipe == EMBED_RECIPE
    chunk = next(c for c in own.chunks if len(c.sentences) > 1)
    j = own.chunks.index(chunk)
    assert np.array_equal(own.chunk_vectors[j],
                          embedder.embed_passages([in_context(own.document(chunk.doc_id), chunk.text)])[0])
    assert np.array_equal(own.sentence_vectors, built.sentence_vectors)  # sentences are embedded alike
    again = build_store(load_documents([docs]), embedder, OPTS, previous=own)
    assert again.manifest.embedded_texts > 0  # another recipe's vectors are not reused


def test_top_terms_keeps_each_rows_largest():
    rows = sparse.csr_matrix(np.array([[0, 3, 1, 2, 0], [5, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 4, 0, 2]], np.float32))
    top = chunk_vectors.top_terms(rows, 2).toarray()
    assert top.tolist() == [[0, 3, 0, 2, 0], [5, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 4, 0, 2]]


def test_max_rows_takes_the_largest_per_owner():
    rows = sparse.csr_matrix(np.array([[1, 0, 2], [3, 0, 1], [0, 7, 0]], np.float32))
    out = chunk_vectors.max_rows(rows, np.array([0, 0, 2]), 3).toarray()
    assert out.tolist() == [[3, 0, 2], [0, 0, 0], [0, 7, 0]]
