"""The shipped word table (index/wordtable.py): made by the default embedder, reproducible, used by builds."""
import json
import shutil

import numpy as np
import pytest

from index import wordtable
from index.build import BuildOptions, build_store
from index.documents import load_documents
from index.vocab import vocabulary
from two_documents import docs  # noqa: F401 (a fixture)

SHARED = wordtable.DATA.parents[2] / "shared"
OPTS = BuildOptions(show_progress=False)


@pytest.fixture(scope="module")
def table(embedder):
    found = wordtable.table_for(embedder)
    assert found, "index/data/words.json names another embedder: rebuild the table (python -m index.wordtable)"
    return found


def test_the_shipped_table_is_the_default_embedders_and_intact(table, embedder):
    meta = json.loads((wordtable.DATA / "words.json").read_text(encoding="utf-8"))
    assert meta["embedder_id"] == embedder.id and meta["words"] == len(table) == wordtable.SIZE
    assert (wordtable.DATA / "words.npz").stat().st_size < 9_000_000  # int8 rows: ~7.7 MB


def test_table_vectors_are_the_embedders_own(table, embedder):
    words = sorted(table)[:: len(table) // 300][:300]
    fresh = embedder.embed_queries(words)
    cosine = (fresh * np.stack([table[w] for w in words])).sum(axis=1)
    assert cosine.min() > 0.9999


def test_a_row_decoded_alone_is_the_row_decoded_with_all_the_others(table):
    words, vectors = wordtable.decode((wordtable.DATA / "words.npz").read_bytes())
    for i in range(0, len(words), 97):
        assert np.array_equal(table[words[i]], vectors[i])


@pytest.mark.skipif(not (SHARED / wordtable.SOURCES[0]).exists(), reason="needs ../shared/train-data")
def test_the_table_is_rebuilt_from_the_training_passages(table, embedder):
    texts = [json.loads(line)["text"] for src in wordtable.SOURCES
             for line in (SHARED / src).read_text(encoding="utf-8").splitlines() if line.strip()]
    words, shipped = wordtable.decode((wordtable.DATA / "words.npz").read_bytes())
    assert wordtable.common_words(texts) == words
    again, vectors = wordtable.decode(wordtable.encode(words[:64], embedder.embed_queries(words[:64])))
    assert again == words[:64]
    assert np.abs(vectors - shipped[:64]).max() < 2e-3  # the same int8 codes, give or take a rounding step


def test_a_build_embeds_only_the_words_the_table_lacks(docs, embedder, table):
    store = build_store(load_documents([docs]), embedder, OPTS)
    words = vocabulary([s.text for s in store.sentences])
    known = [w for w in words if w in table]
    assert known and len(known) < len(words)  # "kemenperin" is no common word
    texts = len(store.sentences) + len(store.chunks)
    assert store.manifest.counts["vocabulary_embedded"] == len(words) - len(known)
    assert store.manifest.embedded_texts <= texts + len(words) - len(known)
    for w in known:
        assert np.array_equal(store.vocab_vectors[store.vocab.index(w)], table[w])


class OtherModel:
    """The real embedder under another id: as if another model's vectors."""

    def __init__(self, inner):
        self.inner = inner
        self.id = inner.id + "-other"

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_another_embedder_or_a_damaged_table_is_not_used(embedder, tmp_path):
    assert wordtable.table_for(OtherModel(embedder)) == {}
    shutil.copytree(wordtable.DATA, tmp_path / "data")
    raw = bytearray((tmp_path / "data" / "words.npz").read_bytes())
    raw[-100] ^= 0xFF
    (tmp_path / "data" / "words.npz").write_bytes(bytes(raw))
    assert wordtable.table_for(embedder, tmp_path / "data") == {}
    assert wordtable.table_for(embedder, tmp_path / "missing") == {}
