from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.sentences import PREFIX_ABBREVIATIONS, SUFFIX_ABBREVIATIONS, split_sentences

REFERENCE = Path(__file__).resolve().parents[2] / "corpus" / "indonesia-unido-industri-4.0.txt"


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


@pytest.mark.parametrize("text,expected", [
    # decimals and versions
    ("Industri 4.0 tumbuh pesat. Data 2016-2020 mendukung.",
     ["Industri 4.0 tumbuh pesat.", "Data 2016-2020 mendukung."]),
    ("Nilainya 1,5 persen. Pi sekitar 3.14 saja.", ["Nilainya 1,5 persen.", "Pi sekitar 3.14 saja."]),
    ("Rilis v2.1.3 sudah keluar. Unduh sekarang.", ["Rilis v2.1.3 sudah keluar.", "Unduh sekarang."]),
    ("The rate rose 1.5 percent in v2.1.3 of the report.", ["The rate rose 1.5 percent in v2.1.3 of the report."]),
    # Indonesian abbreviations
    ("Ada buku, pena, dll. yang dibawa. Semua rapi.", ["Ada buku, pena, dll. yang dibawa.", "Semua rapi."]),
    ("Ia membeli apel, jeruk, dsb. lalu pulang.", ["Ia membeli apel, jeruk, dsb. lalu pulang."]),
    ("Baca bab 1, 2, dst. sampai selesai.", ["Baca bab 1, 2, dst. sampai selesai."]),
    ("Kantor di Jl. Sudirman No. 5 Jakarta. Buka setiap hari.",
     ["Kantor di Jl. Sudirman No. 5 Jakarta.", "Buka setiap hari."]),
    ("Dr. Budi dan Prof. Ir. H. Ahmad hadir. Acara dimulai.",
     ["Dr. Budi dan Prof. Ir. H. Ahmad hadir.", "Acara dimulai."]),
    ("PT Astra International Tbk. mencatat laba. Saham naik.",
     ["PT Astra International Tbk. mencatat laba.", "Saham naik."]),
    ("Budi Santoso, S.H. M.H. menjadi saksi. Sidang ditunda.",
     ["Budi Santoso, S.H. M.H. menjadi saksi.", "Sidang ditunda."]),
    ("Bpk. Joko dan Sdr. Andi datang. Mereka senang.", ["Bpk. Joko dan Sdr. Andi datang.", "Mereka senang."]),
    ("Ada buku, pena, dll. Semua ada.", ["Ada buku, pena, dll.", "Semua ada."]),
    ("S. Nishijima menulis buku itu. Buku itu terkenal.", ["S. Nishijima menulis buku itu.", "Buku itu terkenal."]),
    # English abbreviations and initials
    ("Use a tool, e.g. a hammer. It works.", ["Use a tool, e.g. a hammer.", "It works."]),
    ("Some fruits, i.e. apples, are red. Others are not.", ["Some fruits, i.e. apples, are red.", "Others are not."]),
    ("Mr. Smith met Mrs. Jones and Ms. Lee. They talked.", ["Mr. Smith met Mrs. Jones and Ms. Lee.", "They talked."]),
    ("The U.S. Army camp is on Main St. in Boston. It is big.",
     ["The U.S. Army camp is on Main St. in Boston.", "It is big."]),
    ("Brazil vs. Argentina ended 2-1. Fans cheered.", ["Brazil vs. Argentina ended 2-1.", "Fans cheered."]),
    ("Bring pens, paper, etc. to class. Thanks.", ["Bring pens, paper, etc. to class.", "Thanks."]),
    ("J. F. Kennedy was president. He died in 1963.", ["J. F. Kennedy was president.", "He died in 1963."]),
    # quoted speech with attribution
    ("“Kita harus siap di era industri 4.0,” ujar Dody. Ia optimistis.",
     ["“Kita harus siap di era industri 4.0,” ujar Dody.", "Ia optimistis."]),
    ('"Halo!" kata dia. Lalu ia pergi.', ['"Halo!" kata dia.', "Lalu ia pergi."]),
    ("“Apa kabar?” tanya Budi. Semua diam.", ["“Apa kabar?” tanya Budi.", "Semua diam."]),
    ("‘Ayo!’ seru Ani.", ["‘Ayo!’ seru Ani."]),
    ("'Stop!' she said. He stopped.", ["'Stop!' she said.", "He stopped."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ('Ia pulang. "Besok kita lanjut," katanya.', ["Ia pulang.", '"Besok kita lanjut," katanya.']),
    # ellipses
    ("Tunggu... dia datang juga. Selesai.", ["Tunggu... dia datang juga.", "Selesai."]),
    ("Hmm… mungkin saja.", ["Hmm… mungkin saja."]),
    ("Tunggu... Dia datang.", ["Tunggu...", "Dia datang."]),
    ("Wait… Then it came.", ["Wait…", "Then it came."]),
    # parentheses and closing markers
    ("Lihat hasilnya (lihat Gbr. 2) di bawah. Lanjut.", ["Lihat hasilnya (lihat Gbr. 2) di bawah.", "Lanjut."]),
    ("Ini tujuan global (SDGs). Semua setuju.", ["Ini tujuan global (SDGs).", "Semua setuju."]),
    ("See the chart (cf. Fig. 3). It is clear.", ["See the chart (cf. Fig. 3).", "It is clear."]),
    ("Kami pulang. (Hari sudah malam.) Besok lanjut.", ["Kami pulang.", "(Hari sudah malam.)", "Besok lanjut."]),
    ("Kami siap. “Bagi UKM, ini penting,” ujarnya. (*)", ["Kami siap.", "“Bagi UKM, ini penting,” ujarnya. (*)"]),
    ("Berita selesai. (ant)", ["Berita selesai. (ant)"]),
    ("Berita selesai.\n\n(*)", ["Berita selesai.\n\n(*)"]),
    # sentence-final punctuation
    ("Apa itu? Tidak tahu! Baiklah.", ["Apa itu?", "Tidak tahu!", "Baiklah."]),
    ("Tahun 1998. 20 tahun kemudian berubah.", ["Tahun 1998.", "20 tahun kemudian berubah."]),
    ("Dia pergi. “Tunggu,” kata Ani.", ["Dia pergi.", "“Tunggu,” kata Ani."]),
    ("Selesai.Tanpa spasi.", ["Selesai.Tanpa spasi."]),
    ("What?! No way!!", ["What?!", "No way!!"]),
    # empty input
    ("", []),
    ("   \n\t\n ", []),
])
def test_rules(text, expected):
    assert texts(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Satu. Dua.\nTiga.", [("Satu.", 0), ("Dua.", 0), ("Tiga.", 1)]),
    ("Baris satu\nberlanjut. Dua.\n\nParagraf baru.",
     [("Baris satu\nberlanjut.", 0), ("Dua.", 0), ("Paragraf baru.", 1)]),
    ("A satu.\n  \nB dua.", [("A satu.", 0), ("B dua.", 1)]),
    ("Satu.\r\n\r\nDua\r\nlanjut.", [("Satu.", 0), ("Dua\r\nlanjut.", 1)]),
    ("\n\n  Halo dunia.  \n", [("Halo dunia.", 0)]),
    ("Daftar:\n\n- satu\n- dua. Tiga\n* empat\n• lima\n1. enam\na) tujuh",
     [("Daftar:", 0), ("- satu", 1), ("- dua.", 1), ("Tiga", 1), ("* empat", 1), ("• lima", 1),
      ("1. enam", 1), ("a) tujuh", 1)]),
    ("Pendahuluan\n- poin satu\n  berlanjut\n\nAkhir.",
     [("Pendahuluan", 0), ("- poin satu\n  berlanjut", 0), ("Akhir.", 1)]),
    ("# Judul\nIsi paragraf\nyang panjang.\n\n## Sub\nLagi.",
     [("# Judul", 0), ("Isi paragraf\nyang panjang.", 0), ("## Sub", 1), ("Lagi.", 1)]),
])
def test_paragraphs_lines_and_bullets(text, expected):
    assert [(s.text, s.paragraph) for s in split_sentences(text)] == expected


def test_abbreviation_lists_are_bare_tokens():
    for abbr in PREFIX_ABBREVIATIONS | SUFFIX_ABBREVIATIONS:
        assert abbr and not abbr.endswith(".") and not any(c.isspace() for c in abbr)
    assert not PREFIX_ABBREVIATIONS & SUFFIX_ABBREVIATIONS


def test_reference_document():
    text = REFERENCE.read_text(encoding="utf-8")
    spans = split_sentences(text)
    starts = ["Pada kesempatan terpisah,", "Saat ini, kerja sama", "Hal ini memberikan", "“Selain itu, sesuai",
              "Oleh karena itu,", "“Sinergi tersebut kemudian", "UNIDO Representative for", "Pihaknya berharap",
              "“Bagi UKM, kami"]
    assert len(spans) == 9
    for span, start in zip(spans, starts):
        assert span.text.startswith(start)
    assert [s.paragraph for s in spans] == [0, 1, 1, 2, 3, 4, 5, 5, 5]
    assert spans[3].text.endswith("4.0,” ujar Dody.")
    assert spans[-1].text.endswith("COVID-19,” ujarnya. (*)")
    assert all(s.text != "(*)" for s in spans)
    check_invariants(text, spans)


def check_invariants(text, spans):
    prev_end, prev_para = 0, 0
    for s in spans:
        assert prev_end <= s.start < s.end <= len(text)
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip() and s.text
        assert prev_para <= s.paragraph <= prev_para + 1
        prev_end, prev_para = s.end, s.paragraph
    if spans:
        assert spans[0].paragraph == 0
    covered = set()
    for s in spans:
        covered.update(range(s.start, s.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


PIECES = ["Ini kalimat.", "dll.", "Dr.", "No. 5", "4.0", "v2.1.3", "1,5", "2016-2020", "“Halo,”", "ujar Dody.",
          '"Halo!"', "kata dia.", "(*)", "(lihat Gbr. 2)", "(SDGs).", "...", "…", "S. Nishijima", "e.g.",
          "U.S.", "S.H.", "Apa?", "Ya!", "- ", "* ", "• ", "1. ", "a) ", "# ", "'", '"', "”", "‘", "’", "(", ")",
          "[1]", "**Tebal**", "é", "日本語。", "\u200b", "\xa0"]
SEPARATORS = [" ", "", "\n", "\n\n", " \n \n", "\r\n", "\r\n\r\n", "\t", "\u2028"]

sentence_like = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPARATORS)), max_size=30).map(
    lambda parts: "".join(p + s for p, s in parts))
punctuation_heavy = st.text(alphabet=" \n\r\t.!?…\"'“”‘’()[]#-*•aA1,", max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_round_trips(text):
    check_invariants(text, split_sentences(text))


@settings(max_examples=300, deadline=None)
@given(sentence_like)
def test_sentence_like_text_round_trips(text):
    check_invariants(text, split_sentences(text))


@settings(max_examples=300, deadline=None)
@given(punctuation_heavy)
def test_punctuation_heavy_text_round_trips(text):
    check_invariants(text, split_sentences(text))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=" \t\n\r\x0b\x0c\xa0\u2028\u3000", max_size=20))
def test_whitespace_only_gives_nothing(text):
    assert split_sentences(text) == []
