"""The index.protocol.Store contract, run over every implementation in STORES.

A new store adds a factory `(documents, embedder, tmp_path, request) -> Store` to STORES and must
pass the same tests. Each factory gets the same two documents; `request` lets it ask for a fixture.
"""
import numpy as np
import pytest

from index import store as store_io
from index.build import BuildOptions, build_store
from index.documents import load_documents
from index.lexical import tokenize
from index.protocol import Store
from two_documents import docs  # noqa: F401 (a fixture)


def faiss_in_memory(documents, embedder, tmp_path, request=None):
    return build_store(documents, embedder, BuildOptions(show_progress=False))


def faiss_saved_and_loaded(documents, embedder, tmp_path, request=None):
    store_io.save(faiss_in_memory(documents, embedder, tmp_path), tmp_path)
    return store_io.load(tmp_path, embedder_id=embedder.id)


def postgres(documents, embedder, tmp_path, request):
    """Written from a FAISS build into a throwaway PostgreSQL (skipped where none can start), read back."""
    dsn = request.getfixturevalue("postgres_dsn")
    from index import pgstore

    pgstore.from_index_store(faiss_in_memory(documents, embedder, tmp_path), dsn)
    return pgstore.load(dsn, embedder_id=embedder.id)


STORES = {"faiss": faiss_in_memory, "faiss-loaded": faiss_saved_and_loaded, "postgres": postgres}


@pytest.fixture(params=sorted(STORES), scope="module")
def store(request, docs, embedder, tmp_path_factory) -> Store:
    return STORES[request.param](load_documents([docs]), embedder, tmp_path_factory.mktemp(request.param), request)


@pytest.fixture(scope="module")
def surya(embedder):
    """A query vector for a question about the solar power plant (document b.md)."""
    return embedder.embed_queries(["listrik tenaga surya"])[0]


def test_implements_the_protocol(store):
    assert isinstance(store, Store)


def test_documents_sentences_and_chunks_line_up(store):
    assert [d.doc_id for d in store.documents] == ["a.txt", "b.md"]
    assert store.manifest.counts["sentences"] == len(store.sentences)
    for doc in store.documents:
        assert store.document(doc.doc_id) == doc
        sentences = store.document_sentences(doc.doc_id)
        assert len(sentences) == store.manifest.documents[doc.doc_id].n_sentences
        for s in sentences:
            assert doc.text[s.start : s.end] == s.text
            assert store.sentences[store.sentence_id(doc.doc_id, s.index)] == s
    for c in store.chunks:
        assert store.document(c.doc_id).text[c.start : c.end] == c.text
    assert store.document("no-such-document") is None


def test_dense_search_ranks_and_scores_like_chunk_similarity(store, surya):
    ids, scores = store.search_dense(surya, 10)
    assert len(ids) == len(store.chunks)  # k is capped at the number of chunks
    assert store.chunks[int(ids[0])].doc_id == "b.md"
    assert list(scores) == sorted(scores, reverse=True)
    assert np.allclose(store.chunk_similarity([int(i) for i in ids], surya), scores, atol=1e-5)


def test_lexical_scores_cover_every_chunk(store):
    scores = store.lexical_scores("tenaga surya")
    assert scores.shape == (len(store.chunks),) and scores.dtype == np.float32
    assert store.chunks[int(scores.argmax())].doc_id == "b.md"
    assert not store.lexical_scores("kata-yang-tidak-ada").any()


def test_sentence_scores_and_frequencies(store, surya):
    ids = list(range(len(store.sentences)))
    sims = store.sentence_similarity(ids, surya)
    assert store.sentences[int(sims.argmax())].doc_id == "b.md"
    lexical = store.sentence_lexical_scores("UNIDO", ids)
    best = store.sentences[int(lexical.argmax())]
    assert "UNIDO" in best.text and lexical.shape == (len(ids),)
    assert np.allclose(store.sentence_lexical_scores("UNIDO", ids[::-1]), lexical[::-1])
    assert store.sentence_frequency(tokenize("UNIDO")[0]) == sum("UNIDO" in s.text for s in store.sentences)
    assert store.sentence_frequency("kata-yang-tidak-ada") == 0


def test_vocabulary_maps_vectors_to_the_nearest_corpus_word(store, embedder):
    assert store.has_word("surya") and not store.has_word("sunlight")
    nearest = store.nearest_words(embedder.embed_queries(["surya", "listrik"]))
    assert [word for word, _ in nearest] == ["surya", "listrik"]
    assert all(sim > 0.99 for _, sim in nearest)


def test_latent_terms_have_one_row_per_chunk_and_sentence(store, embedder):
    chunks, sentences = store.latent_terms("chunk"), store.latent_terms("sentence")
    assert chunks.shape == (len(store.chunks), embedder.sparse_dim)
    assert sentences.shape == (len(store.sentences), embedder.sparse_dim)


def test_lowercase_words(store):
    assert "listrik" in store.lowercase_words and "bali" not in store.lowercase_words
