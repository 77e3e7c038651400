"""Answer types: which kind of short answer a question asks for, and finding it in a sentence."""
import pytest
from hypothesis import given, strategies as st

from qa.answer_type import candidate_spans, expected_type, highlight
from qa.pipeline import answer
from qa.types import Citation


@pytest.mark.parametrize(("question", "kind"), [
    ("Kapan Yan Xishan diangkat menjadi panglima?", "date"),
    ("Tahun berapa Pertempuran Shiffin terjadi?", "date"),
    ("When is the programme due to finish?", "date"),
    ("Berapa anggaran Country Programme?", "money"),
    ("How much money did UNIDO commit?", "money"),
    ("Ada berapa komponen yang menjadi fokus?", "number"),
    ("How many people live there?", "number"),
    ("Siapakah pendiri agama Bahá'í?", "person"),
    ("Who won the cup?", "person"),
    ("Dimanakah letak danau Baikal?", "place"),
    ("Di mana kantor pusat General Motors?", "place"),
    ("Where is UNIDO's headquarters?", "place"),
    ("Apa yang dimaksud dengan masyarakat?", None),
    ("Why is UNIDO proud?", None),
])
def test_expected_type(question, kind):
    assert expected_type(question) == kind


def texts(sentence, kind, question):
    return [s.text for s in candidate_spans(sentence, kind, question)]


def cite_text(sentence: str) -> Citation:
    return Citation(n=1, doc_id="d", sentence_index=0, text=sentence, start=0, end=len(sentence), score=1.0)


def test_dates_full_and_ancient():
    assert "17 April 2007" in texts("Album ini dirilis pada tanggal 17 April 2007 di Amerika.", "date", "Kapan dirilis?")
    assert "591" in texts("Su Dingfang dilahirkan pada tahun 591.", "date", "Kapan Su Dingfang lahir?")
    assert "2 Juli 626" in texts("Insiden itu terjadi pada 2 Juli 626.", "date", "Kapan insiden itu?")
    assert texts("Hal ini memberikan peluang bagi Indonesia.", "date", "Kapan?") == []


def test_counts_skip_years_versions_and_names():
    sentence = "Pada tahun 2018, di era industri 4.0 dan COVID-19, fokus pada empat komponen dan 51 kandidat."
    assert texts(sentence, "number", "Ada berapa komponen?") == ["empat", "51"]


def test_money_needs_a_currency():
    assert texts("Biaya produksi film ini $24 juta.", "money", "Berapa biaya produksi?") == ["$24 juta"]
    assert texts("Program ini berlaku 2016-2020 dengan delapan poin.", "money", "Berapa anggaran?") == []


def test_words_from_the_question_are_not_answers():
    sentence = "UNIDO Representative for Indonesia, Esam Alqararah menyampaikan hal itu."
    assert "Esam Alqararah" in texts(sentence, "person", "Siapa perwakilan UNIDO untuk Indonesia?")
    assert "UNIDO" not in texts(sentence, "person", "Siapa perwakilan UNIDO untuk Indonesia?")


def test_place_is_the_name_after_a_preposition():
    spans = texts("Kantor pusatnya di Renaissance Center di Detroit.", "place", "Dimana kantor pusat GM?")
    assert spans == ["Renaissance Center", "Detroit"]


@given(prefix=st.text(max_size=40), day=st.integers(1, 28), year=st.integers(1000, 2099))
def test_highlight_offsets_point_into_the_document(prefix, day, year):
    sentence = f"Acara itu digelar pada {day} Mei {year}."
    doc = prefix + sentence
    citation = Citation(n=1, doc_id="d", sentence_index=0, text=sentence, start=len(prefix), end=len(doc), score=1.0)
    mark = highlight(citation, "date", "Kapan acara itu digelar?")
    assert mark is not None and doc[mark.start : mark.end] == mark.text == f"{day} Mei {year}"


@pytest.mark.parametrize(("question", "expected"), [
    ("Kapan Lothar II lahir?", "9 Juni 1075"),
    ("Kapan Lothar II meninggal?", "4 Desember 1137"),
])
def test_of_several_dates_the_one_next_to_the_question_word_is_marked(question, expected):
    sentence = "Lothar II (lahir 9 Juni 1075 – meninggal 4 Desember 1137) dinobatkan tahun 1133 di Roma."
    citation = cite_text(sentence)
    assert highlight(citation, "date", question).text == expected


def test_at_equal_distance_the_span_after_the_question_word_wins():
    sentence = "Daftar tahun: 1120 dinobatkan 1133 wafat."
    citation = cite_text(sentence)
    assert highlight(citation, "date", "Kapan ia dinobatkan?").text == "1133"
    assert highlight(citation, "date", "Kapan ia wafat?").text == "1133"  # nearest first: 1133 sits right before


def test_pipeline_highlights_the_short_answer(engine):
    ans = answer("How many components does the Country Programme focus on?", engine)
    doc = engine.store.document(ans.highlight.doc_id).text
    assert ans.highlight.text == "empat" and doc[ans.highlight.start : ans.highlight.end] == "empat"
    assert ans.highlight.n == 1 and ans.citations[0].start <= ans.highlight.start < ans.citations[0].end


@pytest.mark.parametrize("question", [
    "Berapa anggaran Country Programme Indonesia-UNIDO 2016-2020?",
    "How much money did UNIDO commit to Indonesia under the country programme?",
])
def test_amount_questions_abstain_when_no_sentence_has_an_amount(engine, question):
    ans = answer(question, engine)
    assert ans.abstained and ans.highlight is None


def test_a_full_name_wins_over_a_nearer_single_capitalised_word():
    citation = cite_text("Jailangkung merupakan film horor Indonesia yang disutradarai oleh Jose Poernomo.")
    assert highlight(citation, "person", "Siapakah sutradara film Jailangkung?").text == "Jose Poernomo"


def test_titles_the_corpus_writes_in_lower_case_are_not_people():
    citation = cite_text("Ia menikah dengan Presiden Amerika Serikat, yang menjabat sejak 1989.")
    common = frozenset({"presiden", "menikah"})
    assert highlight(citation, "person", "Siapa istri George Bush?", common) is None
    assert highlight(citation, "person", "Siapa istri George Bush?").text == "Presiden Amerika Serikat"


def test_acronyms_and_the_bodies_they_abbreviate_are_not_people():
    citation = cite_text("Direktur Jenderal Ketahanan, dan Akses Industri Internasional (KPAII) Kemenperin, Dody Widodo hadir.")
    assert highlight(citation, "person", "Siapa Direktur Jenderal KPAII?").text == "Dody Widodo"
    assert highlight(cite_text("Program itu, menurut UNIDO, berhasil."), "person", "Siapa yang menilainya?") is None


def test_pipeline_marks_the_director_general_by_name(engine):
    ans = answer("Siapa Direktur Jenderal KPAII?", engine)
    assert not ans.abstained and ans.highlight.text == "Dody Widodo"


@pytest.mark.parametrize(("question", "sentence", "expected"), [
    ("Berapakah luas Bendung Katulampa?", "Bendung ini dibangun dengan 2 pintu untuk mengairi lahan seluas 5.000 hektare.", "5.000"),
    ("Berapa berat menara itu?", "Menara itu setinggi sembilan lantai, sedangkan beratnya mencapai 180 ton.", "180"),
])
def test_a_question_word_inside_an_affixed_word_anchors_the_answer(question, sentence, expected):
    assert highlight(cite_text(sentence), "number", question).text == expected


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Kelompok suporter ini mulai aktif pada 1970an di kota itu.", "1970an"),
    ("Kelompok suporter ini mulai aktif pada 1970-an di kota itu.", "1970-an"),
    ("The group became active in the 1970s in that city.", "1970s"),
])
def test_decades_are_dates(sentence, expected):
    assert texts(sentence, "date", "Kapan kelompok itu mulai aktif?") == [expected]


def test_the_answer_is_sought_next_to_the_predicate_not_the_topic_name():
    sentence = "Lahir pada tahun 1928 di Los Angeles, Kitagawa kembali ke Jepang bersama keluarganya."
    assert highlight(cite_text(sentence), "place", "Dimana Johnny Kitagawa lahir?").text == "Los Angeles"
    assert highlight(cite_text(sentence), "place", "Ke mana Kitagawa kembali?").text == "Jepang"


def test_an_ordinal_does_not_answer_how_many_or_how_long():
    sentence = "Perang itu berlangsung hampir 20 tahun dan dikenal sebagai perang kedua."
    assert highlight(cite_text(sentence), "number", "Berapa lama perang itu berlangsung?").text == "20"
    assert highlight(cite_text("Ia menjadi raja kedua dinasti itu."), "number", "Raja ke berapa dia?").text == "kedua"


def test_a_place_may_carry_the_name_the_question_asks_about():
    sentence = "Malé adalah ibu kota Maladewa yang terletak di Pulau Malé."
    assert highlight(cite_text(sentence), "place", "Dimanakah letak kota Malé?").text == "Pulau Malé"
