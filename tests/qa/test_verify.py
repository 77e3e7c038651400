"""Verification of generated answers: markers, numbers, dates and names (pure functions)."""
from __future__ import annotations

import pytest

from qa.numbers import digit_values, known_numbers, month_numbers, number_mentions, words_value
from qa.verify import check_markers, cited, normalize_markers, own_words, proper_names, recite, verify

RCID = ("Pada kesempatan terpisah, Direktur Jenderal Ketahanan, Perwilayahan, dan Akses Industri "
        "Internasional (KPAII) Kemenperin, Dody Widodo menyebutkan, kerja sama Pemerintah Indonesia dan "
        "UNIDO, salah satunya telah menginisiasi pertemuan Regional Conference on Industrial Development "
        "(RCID) pada tahun 2018 yang menghasilkan dokumen kesepakatan antara negara di Kawasan Asia "
        "Pasifik, yaitu Bali Agenda on Industry 4.0 yang juga berisikan delapan poin strategi "
        "implementasi industri 4.0.")
BUDGET = "Anggaran program tersebut mencapai Rp1,5 juta per peserta dan 12.500 peserta pada 17 Agustus 2020."


@pytest.mark.parametrize("token, values", [
    ("2018", {2018.0}), ("4.0", {4.0}), ("2,5", {2.5}), ("1.000", {1000.0, 1.0}), ("1,000", {1000.0, 1.0}),
    ("12.500.000", {12_500_000.0}), ("1.234,5", {1234.5}), ("1,234.5", {1234.5}), ("08", {8.0}),
])
def test_digit_values(token, values):
    assert digit_values(token) == values


@pytest.mark.parametrize("words, value", [
    ("delapan", 8), ("eight", 8), ("sebelas", 11), ("dua belas", 12), ("nineteen", 19),
    ("dua puluh lima", 25), ("twenty five", 25), ("seratus dua puluh", 120), ("dua ratus", 200),
    ("one hundred and five", 105), ("seribu", 1000), ("tiga ribu", 3000), ("dua puluh lima ribu", 25_000),
    ("two thousand", 2000), ("lima juta", 5_000_000), ("sejuta", 1_000_000), ("dua miliar", 2_000_000_000),
    ("three billion", 3_000_000_000),
])
def test_words_value(words, value):
    assert words_value(words.split()) == value


def test_number_mentions_worked_example():
    found = dict(number_mentions("Rp1,5 juta for twenty-five people, 2.5 million in total, one of them"))
    assert found == {"1,5 juta": {1_500_000.0}, "2.5 million": {2_500_000.0}, "twenty five": {25.0}}


def test_known_numbers_include_unscaled_and_word_readings():
    assert {1.5, 1_500_000.0, 12_500.0, 17.0, 2020.0} <= known_numbers(BUDGET)
    assert 8.0 in known_numbers(RCID)


@pytest.mark.parametrize("text, months", [
    ("pada 17 Agustus 2020", {8}), ("on March 3", {3}), ("Mei dan Juni", {5, 6}),
    ("you may ask", set()), ("tanpa bulan", set()),
])
def test_month_numbers(text, months):
    assert month_numbers(text) == months


@pytest.mark.parametrize("text, expected", [
    ("a [1] b [2][3]", [1, 2, 3]), ("no markers", []), ("[12] and [x]", [12]),
])
def test_cited(text, expected):
    assert cited(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("ok [1] and [3]", None), ("none", "no_citation"), ("bad [4]", "citation_out_of_range"),
    ("zero [0]", "citation_out_of_range"),
])
def test_check_markers(text, reason):
    assert check_markers(text, 3).reason == reason


def test_normalize_markers_splits_lists():
    assert normalize_markers("a [1, 3] b [2;4] c [5]") == "a [1][3] b [2][4] c [5]"


def test_proper_names_skip_sentence_starts_and_function_words():
    text = "The meeting was held by UNIDO in Vienna [1]. Indonesia joined. Dody Widodo spoke [2]."
    assert proper_names(text) == ["UNIDO", "Vienna", "Dody", "Widodo"]


@pytest.mark.parametrize("answer, reason", [
    ("The Bali Agenda on Industry 4.0 contains eight strategy points [1].", None),
    ("The Bali Agenda contains 8 points [1].", None),
    ("Bali Agenda berisi delapan poin strategi [1].", None),
    ("RCID stands for Regional Conference on Industrial Development [1].", None),
    ("Dody Widodo is the Director General of KPAII at the Ministry of Industry [1].", None),
    ("Indonesia and UNIDO cooperate in the Asia Pacific region [1].", None),
    ("UNIDO's partner in the RCID was Indonesia [1].", None),
    ("The Bali Agenda contains 12 points [1].", "unsupported_number"),
    ("The Bali Agenda contains twelve points [1].", "unsupported_number"),
    ("RCID was first held in 2019 [1].", "unsupported_number"),
    ("RCID was held in July 2018 [1].", "unsupported_date"),
    ("RCID was initiated with UNESCO [1].", "unsupported_name"),
    ("Joko Widodo started the RCID [1].", "unsupported_name"),
    ("RCID was held in 2018 [2].", "citation_out_of_range"),
    ("RCID was held in 2018.", "no_citation"),
    (" [1] ", "empty_answer"),
])
def test_verify_against_the_reference_sentence(answer, reason):
    assert verify(answer, [RCID]).reason == reason


@pytest.mark.parametrize("answer, reason", [
    ("Each participant receives Rp1.5 million [1].", None),
    ("The program had 12,500 participants [1].", None),
    ("Program itu diikuti 12.500 peserta pada 17 Agustus 2020 [1].", None),
    ("It took place on 17 August 2020 [1].", None),
    ("The program had 13,500 participants [1].", "unsupported_number"),
    ("Each participant receives Rp2 million [1].", "unsupported_number"),
    ("It took place on 18 August 2020 [1].", "unsupported_number"),
    ("It took place in September 2020 [1].", "unsupported_date"),
])
def test_verify_normalizes_number_formats_across_languages(answer, reason):
    assert verify(answer, [BUDGET]).reason == reason


def test_numbers_must_be_in_the_cited_sentence_not_just_any_source():
    sources = [RCID, BUDGET]
    assert verify("The program had 12,500 participants [2].", sources).ok
    assert verify("The program had 12,500 participants [1].", sources).reason == "unsupported_number"


def test_own_words_leave_out_what_the_answer_quotes():
    answer = "Fokus proyek adalah poverty reduction dan energy for all [1]."
    sources = ["Proyek fokus pada poverty reduction, energy for all, serta partnership."]
    assert own_words(answer, sources) == "adalah dan"
    assert own_words("Proyek poverty reduction [1]", sources) == ""


@pytest.mark.parametrize("answer, expected", [
    ("The program had 12,500 participants [1].", "The program had 12,500 participants [2]."),  # facts in [2]
    ("The program had 12,500 participants [2].", "The program had 12,500 participants [2]."),  # already right
    ("The program had 99 participants [1].", "The program had 99 participants [1]."),  # nowhere: unchanged
    ("RCID in 2018 [1] had 12,500 participants [2].", "RCID in 2018 [1] had 12,500 participants [2]."),  # two sources
    ("RCID in 2018 had 12,500 participants [1].", "RCID in 2018 had 12,500 participants [1][2]."),  # one missing
    ("RCID in 2018 had 12,500 participants [2].", "RCID in 2018 had 12,500 participants [1][2]."),
])
def test_recite_points_a_single_citation_at_the_sentence_with_the_facts(answer, expected):
    assert recite(answer, [RCID, BUDGET]) == expected
