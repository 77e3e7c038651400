import numpy as np

from index.lexical import LexicalIndex, tokenize


def test_tokenize_keeps_numbers_and_drops_stop_words():
    assert tokenize("Industri 4.0 pada tahun 2016-2020, yaitu 1,5 persen") == [
        "industri", "4.0", "tahun", "2016-2020", "1,5", "persen"]
    assert tokenize("What is the UNIDO Country Programme?") == ["unido", "country", "programme"]


def test_scores_rank_matching_text_first(tmp_path):
    texts = ["Kerja sama Indonesia dan UNIDO.", "Bali Agenda on Industry 4.0.", ""]
    idx = LexicalIndex.build(texts)
    scores = idx.scores("agenda bali")
    assert int(np.argmax(scores)) == 1 and scores[0] == 0 and scores[2] == 0
    assert not idx.scores("zzz qqq").any()
    idx.save(tmp_path)
    again = LexicalIndex.load(tmp_path, len(texts))
    assert np.allclose(again.scores("agenda bali"), scores)


def test_document_frequency_counts_texts_not_occurrences(tmp_path):
    idx = LexicalIndex.build(["UNIDO dan UNIDO.", "Kerja sama UNIDO.", "Bali Agenda.", ""])
    assert idx.document_frequency("unido") == 2 and idx.document_frequency("bali") == 1
    assert idx.document_frequency("australia") == 0
    idx.save(tmp_path)
    assert LexicalIndex.load(tmp_path, 4).document_frequency("unido") == 2
