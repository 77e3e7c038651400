import re

import numpy as np
import pytest

from qa.errors import InvalidQuestion, NoIndex
from qa.pipeline import answer, clean_question
from qa.retrieve import fuse

REFERENCE = "indonesia-unido-industri-4.0.txt"


def check_grounded(ans, engine):
    """Every [n] refers to a citation and every citation's offsets match the source."""
    numbers = {c.n for c in ans.citations}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", ans.answer)} <= numbers
    assert [c.n for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    scores = [c.score for c in ans.citations]
    assert scores == sorted(scores, reverse=True)
    for c in ans.citations:
        assert engine.store.document(c.doc_id).text[c.start : c.end] == c.text


def test_english_question_finds_indonesian_sentence(engine):
    ans = answer("Who is the UNIDO representative for Indonesia?", engine)
    assert ans.language == "en" and not ans.abstained
    assert "Esam Alqararah" in ans.citations[0].text
    assert ans.answer.startswith("According to the documents")
    assert "[1]" in ans.answer
    check_grounded(ans, engine)


def test_indonesian_question_quotes_the_sentence(engine):
    ans = answer("Berapa poin strategi implementasi industri 4.0 dalam Bali Agenda?", engine, top_k=2)
    assert ans.language == "id" and not ans.abstained
    assert "delapan poin strategi" in ans.citations[0].text
    assert ans.citations[0].text in ans.answer and len(ans.citations) == 2
    check_grounded(ans, engine)


@pytest.mark.parametrize("question,language", [
    ("Siapa pemenang Piala Dunia FIFA 2018?", "id"),
    ("What is the boiling point of water at sea level?", "en"),
])
def test_off_topic_questions_abstain_in_their_language(engine, question, language):
    ans = answer(question, engine)
    assert ans.abstained and ans.language == language
    assert "[" not in ans.answer
    assert ("tidak memuat" in ans.answer) if language == "id" else ("don't contain" in ans.answer)


@pytest.mark.parametrize("bad", ["", "   \n\t", "x" * 2001, "apa\x00itu"])
def test_bad_questions_are_rejected(bad):
    with pytest.raises(InvalidQuestion):
        clean_question(bad, 2000)


def test_no_index_says_how_to_fix(embedder):
    from qa.engine import AnswerConfig, Engine

    with pytest.raises(NoIndex, match="qa index"):
        answer("Apa itu UNIDO?", Engine(embedder, AnswerConfig()))


def test_fuse_weights_scaled_scores():
    # dense: chunk 0 = 0.9 (scaled 1.0), chunk 1 = 0.8 (scaled 0.0); BM25 only matches chunk 1 (scaled 1.0)
    lexical = np.array([0.0, 4.0, 0.0], dtype=np.float32)
    dense_only = fuse({0: 0.9, 1: 0.8}, lexical, alpha=0.0)
    assert [p.chunk_id for p in dense_only] == [0, 1]
    # alpha 0.6: chunk 0 -> 0.4 * 1.0 = 0.4; chunk 1 -> 0.4 * 0 + 0.6 * 1.0 = 0.6
    mixed = fuse({0: 0.9, 1: 0.8}, lexical, alpha=0.6)
    assert [p.chunk_id for p in mixed] == [1, 0]
    assert mixed[0].score == pytest.approx(0.6) and mixed[1].score == pytest.approx(0.4)
    assert fuse({}, np.zeros(3, dtype=np.float32), alpha=0.5) == []


def _chunks(*doc_ids):
    from types import SimpleNamespace

    return SimpleNamespace(chunks=[SimpleNamespace(doc_id=d) for d in doc_ids])


def test_latent_terms_are_only_consulted_when_another_document_is_close():
    from qa.retrieve import contested
    from qa.types import Passage

    store = _chunks("a", "a", "b")
    ranked = [Passage(0, 1.0, 0.9, 0.0), Passage(1, 0.9, 0.8, 0.0), Passage(2, 0.7, 0.7, 0.0)]
    assert contested(ranked, store, margin=0.5)  # b's chunk is 0.3 behind
    assert not contested(ranked, store, margin=0.2)
    assert not contested(ranked[:2], store, margin=0.5)  # one document only: nothing to decide
    assert not contested([], store, margin=0.5)


def test_latent_terms_add_a_scaled_bonus_and_re_rank():
    from qa.retrieve import add_latent_terms
    from qa.types import Passage

    ranked = [Passage(0, 1.0, 0.9, 0.0), Passage(2, 0.8, 0.7, 0.0)]
    scores = np.array([1.0, 0.0, 4.0], dtype=np.float32)  # chunk 2 shares the most latent terms
    out = add_latent_terms(ranked, scores, weight=0.5)
    assert [p.chunk_id for p in out] == [2, 0]
    assert out[0].score == pytest.approx(0.8 + 0.5) and out[1].score == pytest.approx(1.0 + 0.5 * 0.25)
    assert add_latent_terms(ranked, np.zeros(3, np.float32), weight=0.5) == ranked
