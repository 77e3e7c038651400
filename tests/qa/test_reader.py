"""The learned reader: the shipped model, its embeddings, its checks, and its place in the pipeline."""
import shutil
from dataclasses import replace

import numpy as np
import pytest

from qa.engine import Engine
from qa.errors import ReaderError
from qa.pipeline import answer
from qa.reader import DEFAULT_MODEL, WEIGHTS_NAME, Reader, engine_pair_text, load_reader, passage_text
from qa.rerank import rerank
from qa.select import ScoredSentence


def test_the_answer_sentence_outscores_its_neighbours(reader):
    # Wikipedia-like text, what it was trained on (on the reference document's news text it
    # does not yet tell them apart: docs/reader.md)
    question = "Kapan Douwes Dekker lahir?"
    texts = ["Douwes Dekker lahir di Pasuruan pada 8 Oktober 1879.", "Ayahnya seorang agen bank di Batavia.",
             "Ia kemudian menjadi wartawan terkenal."]
    logits = reader.logits(question, texts)
    assert logits.shape == (3,) and logits[0] > max(logits[1:]) + 1.0


def test_batch_and_single_scores_agree(reader):
    question = "When was the partnership signed?"
    texts = ["Kerja sama itu ditandatangani pada tahun 2019.", "UNIDO adalah badan PBB."]
    both = reader.logits(question, texts)
    one = [reader.logits(question, [t])[0] for t in texts]
    assert np.allclose(both, one, atol=1e-4)  # a pair's score does not depend on what else is asked with it
    assert reader.logits(question, []).shape == (0,)


def test_a_tampered_model_is_refused(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(DEFAULT_MODEL, folder)
    data = bytearray((folder / WEIGHTS_NAME).read_bytes())
    data[-100] ^= 0xFF
    (folder / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="sha256"):
        Reader(folder)
    with pytest.raises(ReaderError, match="can't be read"):
        Reader(tmp_path / "missing")
    assert load_reader("off") is None


def test_passage_text_puts_the_title_first():
    assert passage_text("UNIDO", "Ia lahir pada 1451.") == "UNIDO. Ia lahir pada 1451."
    assert passage_text("", "Ia lahir pada 1451.") == "Ia lahir pada 1451."


def test_pair_text_bounds_both_sides():
    text = engine_pair_text("  Siapa? " + "x" * 500, "y" * 900)
    assert text.startswith("Siapa? x") and text.count("x") == 300 - len("Siapa? ") and text.count("y") == 400
    assert " passage: " in text


def test_a_reader_runs_beside_the_embedder_on_the_same_engine(reader, embedder):
    # both load into one process (one OpenMP runtime); neither disturbs the other's results
    before = embedder.embed_queries(["Kapan PBB terbentuk?"])
    reader.logits("Kapan PBB terbentuk?", ["PBB terbentuk pada 24 Oktober 1945."])
    assert np.array_equal(before, embedder.embed_queries(["Kapan PBB terbentuk?"]))


class FixedReader:
    """Stands in for the model only to pin the logits rerank receives (the arithmetic under test)."""

    def __init__(self, logits):
        self.values = np.array(logits, dtype=np.float32)

    def logits(self, question, texts):
        return self.values[: len(texts)]


def test_rerank_orders_by_logit_and_keeps_scores_falling(engine):
    ranked = [ScoredSentence(i, 1.0 - i / 10, 0.8) for i in range(5)]
    moved, judged = rerank("q", ranked, engine.store, FixedReader([0.1, 2.0, -1.0]), candidates=3, weight=0.0)
    assert [s.sentence_id for s in moved] == [1, 0, 2, 3, 4]
    assert [s.score for s in moved] == [s.score for s in ranked]
    assert judged.best == pytest.approx(2.0) and judged.logits[0] == pytest.approx(2.0)
    # a large weight on the pipeline score keeps the pipeline's order
    kept, _ = rerank("q", ranked, engine.store, FixedReader([0.1, 2.0, -1.0]), candidates=3, weight=100.0)
    assert [s.sentence_id for s in kept] == [0, 1, 2, 3, 4]


def test_the_reader_threshold_decides_abstention(engine, reader):
    question = "Siapa perwakilan UNIDO untuk Indonesia?"
    base = replace(engine.config, abstain_threshold_id=-9.0)
    answered = answer(question, Engine(engine.embedder, replace(base, reader_threshold_id=-50.0), engine.store, reader))
    assert not answered.abstained and answered.reader is not None
    refused = answer(question, Engine(engine.embedder, replace(base, reader_threshold_id=answered.reader + 0.01),
                                      engine.store, reader))
    assert refused.abstained and refused.citations  # the closest sentences are still cited
    without = answer(question, Engine(engine.embedder, base, engine.store))
    assert without.reader is None


class CountingReader(FixedReader):
    """A FixedReader that records how many sentences each call reads."""

    def __init__(self, logits):
        super().__init__(logits)
        self.reads = []

    def logits(self, question, texts):
        self.reads.append(len(texts))
        return super().logits(question, texts)


def test_the_reader_reads_only_where_the_pipeline_is_undecided(engine):
    close = [ScoredSentence(i, 1.0 - i / 100, 0.8) for i in range(4)]  # first two 0.01 apart
    apart = [ScoredSentence(i, 1.0 - i / 2, 0.8) for i in range(4)]  # first two 0.5 apart
    reader = CountingReader([0.1, 2.0, -1.0])
    moved, judged = rerank("q", close, engine.store, reader, candidates=2, weight=0.0, gap=0.125)
    assert [s.sentence_id for s in moved] == [1, 0, 2, 3] and reader.reads == [2]
    kept, judged = rerank("q", apart, engine.store, reader, candidates=2, weight=0.0, gap=0.125)
    assert kept == apart and judged is None and reader.reads == [2]  # not asked at all
    # when its logit can abstain, it still judges the first sentence (one pair), without reordering
    kept, judged = rerank("q", apart, engine.store, reader, candidates=2, weight=0.0, gap=0.125, judge=True)
    assert kept == apart and judged.best == pytest.approx(0.1) and reader.reads == [2, 1]


def test_a_file_name_is_not_read_as_a_title(engine):
    from qa.rerank import reader_text

    doc = engine.store.documents[0]
    assert doc.title == "indonesia-unido-industri-4.0"  # the bundled .txt has no title line: its file name stands in
    assert reader_text(engine.store, doc.doc_id, "Kalimat.") == "Kalimat."
    titled = replace(doc, title="Kerja Sama Indonesia-UNIDO")
    store = type("S", (), {"document": lambda self, doc_id: titled})()
    assert reader_text(store, doc.doc_id, "Kalimat.") == "Kerja Sama Indonesia-UNIDO. Kalimat."


def test_by_default_the_real_reader_reads_only_the_undecided_seed_questions(engine, reader):
    """The default settings (QA_READER=bundled, gap 0.125) over the bundled corpus: the reader is asked for
    some seed questions and not for others, and reorders only those it read."""
    import json
    from pathlib import Path

    from qa.settings import Settings

    assert Settings(_env_file=None).reader == "bundled" and engine.reader is not None
    seed = Path(__file__).resolve().parents[2] / "eval" / "data" / "seed" / "questions.jsonl"
    questions = [json.loads(line)["question"] for line in seed.read_text(encoding="utf-8").splitlines() if line]
    plain = Engine(engine.embedder, engine.config, engine.store)  # the same pipeline without the reader
    read = 0
    for q in questions:
        with_reader, without = answer(q, engine), answer(q, plain)
        if with_reader.reader is None:  # not read: the pipeline's own order, untouched
            assert [c.text for c in with_reader.citations] == [c.text for c in without.citations], q
        else:
            read += 1
            gap = without.citations[0].score - without.citations[1].score
            assert gap < engine.config.reader_gap, q
    assert 0 < read < len(questions)


def test_without_a_writable_temporary_folder_the_reader_loads_from_memory(reader, monkeypatch):
    """The image is mapped from a temporary file (unread pages stay on disk); failing that, from a buffer."""
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    in_memory = Reader()
    texts = ["PBB terbentuk pada 24 Oktober 1945.", "Markasnya di New York."]
    assert in_memory._buffer is not None and not hasattr(reader, "_buffer")
    assert np.array_equal(in_memory.logits("Kapan PBB terbentuk?", texts), reader.logits("Kapan PBB terbentuk?", texts))
