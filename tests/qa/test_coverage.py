"""Word coverage: the share of a question's words a sentence holds, rare words weighing more."""
from qa.coverage import coverage

SENTENCE = ("Saat ini, kerja sama Indonesia-UNIDO diimplementasikan melalui dokumen Indonesia-UNIDO Country "
            "Programme 2016-2020 dan akan segera berakhir pada bulan ini.")


def test_all_words_present_is_full_coverage(engine):
    assert coverage("Kapan Country Programme berakhir?", SENTENCE, engine.store) == 1.0


def test_a_word_the_corpus_never_uses_counts_against(engine):
    assert engine.store.sentence_frequency("australia") == 0
    assert coverage("Apa ibu kota Australia?", SENTENCE, engine.store) == 0.0
    partial = coverage("Kapan Country Programme Australia berakhir?", SENTENCE, engine.store)
    assert 0.0 < partial < 1.0


def test_rare_words_weigh_more(engine):
    lexical = engine.store.sentence_lexical
    assert lexical.document_frequency("rcid") < lexical.document_frequency("kerja")
    # SENTENCE holds "kerja" but not the rarer "rcid": less than the half an unweighted share would give
    assert 0.0 < coverage("rcid kerja", SENTENCE, engine.store) < 0.5


def test_a_bridged_word_counts_as_the_corpus_word_it_maps_to(engine):
    plain = coverage("When will the programme finish?", SENTENCE, engine.store)
    bridged = coverage("When will the programme finish?", SENTENCE, engine.store, {"finish": "berakhir"})
    assert plain < bridged
    assert coverage("programme finish", SENTENCE, engine.store, {"finish": "berakhir"}) == 1.0


def test_bridge_maps_english_words_onto_corpus_words(engine):
    from qa.expand import bridge

    mapping = bridge("Which document governs the cooperation?", engine.store, engine.words, threshold=0.85)
    assert mapping, "no English word reached a corpus word at cosine 0.85"
    assert not any(engine.store.has_word(w) for w in mapping)  # only out-of-corpus words are bridged
    assert all(engine.store.has_word(v) for v in mapping.values())
    assert bridge("Which document governs the cooperation?", engine.store, engine.words, threshold=1.01) == {}
