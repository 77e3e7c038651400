import json

import numpy as np
import pytest

from index import store as store_io
from index.build import BuildOptions, build_store, in_context
from index.documents import load_documents
from index.errors import StoreError
from index.types import Document
from two_documents import docs  # noqa: F401 (a fixture)

OPTS = BuildOptions(show_progress=False)


def test_round_trip_keeps_offsets_vectors_and_search(docs, embedder, tmp_path):
    built = build_store(load_documents([docs]), embedder, OPTS)
    store_io.save(built, tmp_path)
    loaded = store_io.load(tmp_path, embedder_id=embedder.id)
    assert loaded.manifest.counts == built.manifest.counts
    assert np.allclose(loaded.chunk_vectors, built.chunk_vectors)
    for s in loaded.sentences:
        assert loaded.document(s.doc_id).text[s.start : s.end] == s.text
    q = embedder.embed_queries(["listrik tenaga surya"])[0]
    ids, _ = loaded.search_dense(q, 1)
    assert loaded.chunks[ids[0]].doc_id == "b.md"
    assert loaded.lexical.scores("surya").argmax() == ids[0]
    assert "surya" in loaded.vocab and loaded.vocab_vectors.shape == (len(loaded.vocab), embedder.dim)


def test_unchanged_documents_are_not_re_embedded(docs, embedder, tmp_path):
    first = build_store(load_documents([docs]), embedder, OPTS)
    assert first.manifest.embedded_texts > 0
    second = build_store(load_documents([docs]), embedder, OPTS, previous=first)
    assert second.manifest.embedded_texts == 0
    assert np.allclose(second.sentence_vectors, first.sentence_vectors)


def test_changed_document_is_re_embedded_alone(docs, embedder, tmp_path):
    first = build_store(load_documents([docs]), embedder, OPTS)
    changed = tmp_path / "docs"
    changed.mkdir()
    for f in docs.iterdir():
        (changed / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (changed / "a.txt").write_text("Teks baru tentang kopi Gayo.", encoding="utf-8")
    second = build_store(load_documents([changed]), embedder, OPTS, previous=first)
    b_sentences = second.manifest.documents["b.md"].n_sentences
    assert 0 < second.manifest.embedded_texts
    assert second.manifest.documents["a.txt"].checksum != first.manifest.documents["a.txt"].checksum
    assert np.allclose(second.sentence_vectors[-b_sentences:], first.sentence_vectors[-b_sentences:])


def test_load_refuses_other_embedder_and_format(docs, embedder, tmp_path):
    store_io.save(build_store(load_documents([docs]), embedder, OPTS), tmp_path)
    with pytest.raises(StoreError, match="built with embedder .*qa index --rebuild"):
        store_io.load(tmp_path, embedder_id="something-else")
    manifest = store_io.current_build(tmp_path) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 999
    manifest.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="format 999.*qa index --rebuild"):
        store_io.load(tmp_path)


def test_corrupt_file_is_named(docs, embedder, tmp_path):
    store_io.save(build_store(load_documents([docs]), embedder, OPTS), tmp_path)
    vectors = store_io.current_build(tmp_path) / "chunk_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:50])
    with pytest.raises(StoreError, match="chunk_vectors.npy is missing, truncated or corrupt"):
        store_io.load(tmp_path)


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(StoreError, match="run `qa index`"):
        store_io.load(tmp_path / "none")


def test_new_build_replaces_current_and_old_builds_are_pruned(docs, embedder, tmp_path):
    built = build_store(load_documents([docs]), embedder, OPTS)
    paths = [store_io.save(built, tmp_path) for _ in range(4)]
    assert store_io.current_build(tmp_path) == paths[-1]
    remaining = sorted(p.name for p in (tmp_path / "builds").iterdir())
    assert len(remaining) == 2 and paths[-1].name in remaining


def test_hnsw_option(docs, embedder):
    store = build_store(load_documents([docs]), embedder, BuildOptions(dense_kind="hnsw", show_progress=False))
    q = embedder.embed_queries(["kerja sama UNIDO"])[0]
    ids, scores = store.search_dense(q, 2)
    assert store.chunks[ids[0]].doc_id == "a.txt" and scores[0] >= scores[-1]


def test_sentences_and_chunks_are_embedded_under_their_document_title(docs, embedder):
    built = build_store(load_documents([docs]), embedder, OPTS)
    sid = built.sentence_id("b.md", 1)
    sentence = built.sentences[sid]
    assert sentence.text == "Pembangkit listrik tenaga surya dibangun di Bali."
    expected = embedder.embed_passages([f"Energi. {sentence.text}"])[0]
    assert np.allclose(built.sentence_vectors[sid], expected, atol=1e-5)
    plain = embedder.embed_passages([sentence.text])[0]
    assert not np.allclose(built.sentence_vectors[sid], plain, atol=1e-3)
    chunk = next(i for i, c in enumerate(built.chunks) if c.doc_id == "a.txt")
    expected = embedder.embed_passages([f"a. {built.chunks[chunk].text}"])[0]  # a .txt file's title is its stem
    assert np.allclose(built.chunk_vectors[chunk], expected, atol=1e-5)


def test_in_context_leaves_out_a_title_that_only_repeats_the_id():
    doc = Document(doc_id="p1", title="p1", text="Ia lahir pada 1451.", checksum="x")
    assert in_context(doc, doc.text) == "Ia lahir pada 1451."
    titled = Document(doc_id="p1", title=" Kristoforus Kolumbus ", text=doc.text, checksum="x")
    assert in_context(titled, doc.text) == "Kristoforus Kolumbus. Ia lahir pada 1451."
    long = Document(doc_id="p1", title="Laporan " * 40, text=doc.text, checksum="x")
    context = in_context(long, doc.text)
    assert context.endswith(". Ia lahir pada 1451.") and len(context) <= 100 + len(". Ia lahir pada 1451.")
    assert context.startswith("Laporan Laporan") and "Lapor." not in context  # cut at a word boundary


def test_an_index_embedded_by_an_older_recipe_loads_with_a_warning(docs, embedder, tmp_path, caplog):
    store_io.save(build_store(load_documents([docs]), embedder, OPTS), tmp_path)
    manifest = store_io.current_build(tmp_path) / "manifest.json"
    data = json.loads(manifest.read_text())
    data["embed_recipe"] = "v1:sentence|chunk"
    manifest.write_text(json.dumps(data))
    with caplog.at_level("WARNING", logger="index.store"):
        loaded = store_io.load(tmp_path, embedder_id=embedder.id)
    assert loaded.manifest.embed_recipe == "v1:sentence|chunk"
    assert "older recipe" in caplog.text and "qa index" in caplog.text


def test_lowercase_words_are_those_written_in_lower_case_somewhere():
    from index.vocab import lowercase_words

    words = lowercase_words(["Presiden Joko Widodo bertemu presiden Prancis.", "S. Miyoshi dan Ide dari Lorraine."])
    assert {"presiden", "bertemu", "dan", "dari"} <= words
    assert not {"joko", "widodo", "prancis", "s", "miyoshi", "ide", "lorraine"} & words
