"""PDF, Word and HTML files made here (reportlab, python-docx) read into text, titles and pages."""
import pytest

from index.documents import read_sources, title_line
from index.errors import DocumentError
from index.formats import extract, pdf_paragraphs
from made_files import (DOCX_PARAGRAPHS, DOCX_TITLE, HTML_TITLE, PDF_PAGES, TITLE_PDF, make_docx,
                                    make_encrypted_pdf, make_html, make_pdf, make_scanned_pdf)


def test_two_column_pdf_keeps_paragraphs_accents_and_page_starts(tmp_path):
    out = extract("laporan.pdf", make_pdf(tmp_path / "laporan.pdf").read_bytes())
    assert out.title == TITLE_PDF
    paragraphs = out.text.split("\n\n")
    assert paragraphs == [p for page in PDF_PAGES for p in page]  # column 1, then column 2, lines rejoined
    assert len(out.pages) == 2 and out.text[out.pages[1]:].startswith(PDF_PAGES[1][0])
    assert "André" in out.text and "Kafé" in out.text


def test_pdf_lines_join_into_paragraphs_and_headings_stand_alone():
    lines = ["Latar Belakang", "Pemerintah meresmikan pabrik baterai di kawasan industri terpadu",
             "Batang pada hari Rabu. Kapasitasnya sepuluh gigawatt-jam per tahun, dan kata-", "kata itu diulang.",
             "", "12", "Paragraf kedua dimulai di sini."]
    assert pdf_paragraphs(lines) == [
        "Latar Belakang",
        "Pemerintah meresmikan pabrik baterai di kawasan industri terpadu Batang pada hari Rabu. "
        "Kapasitasnya sepuluh gigawatt-jam per tahun, dan kata-kata itu diulang.",
        "Paragraf kedua dimulai di sini."]


def test_docx_reads_paragraphs_tables_and_title(tmp_path):
    out = extract("profil.docx", make_docx(tmp_path / "profil.docx").read_bytes())
    assert out.title == DOCX_TITLE
    assert out.text.split("\n\n") == [DOCX_TITLE, DOCX_PARAGRAPHS[0], "Kepengurusan", DOCX_PARAGRAPHS[1],
                                      "Jabatan | Nama", "Bendahara | Pak Darto"]


def test_html_keeps_the_article_and_drops_scripts_menus_sidebars_and_footers(tmp_path):
    out = extract("festival.html", make_html(tmp_path / "festival.html").read_bytes())
    assert out.title == HTML_TITLE
    assert "dua belas negara" in out.text and "dibuat oleh tim dari Bali" in out.text
    for junk in ("jangan diindeks", "kuki", "Beranda", "Harga cabai", "Hak cipta", "Terpopuler"):
        assert junk not in out.text


@pytest.mark.parametrize("make, words", [
    (make_scanned_pdf, "OCR"),
    (make_encrypted_pdf, "encrypted with a password"),
    (lambda p: p.write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage") and p, "not a readable PDF"),
])
def test_unreadable_pdfs_say_why(tmp_path, make, words):
    path = tmp_path / "x.pdf"
    make(path)
    with pytest.raises(DocumentError, match=words):
        extract("x.pdf", path.read_bytes())


def test_one_bad_file_is_skipped_and_named_the_rest_loaded(tmp_path):
    make_pdf(tmp_path / "laporan.pdf")
    make_scanned_pdf(tmp_path / "pindaian.pdf")
    (tmp_path / "rusak.docx").write_bytes(b"PK\x03\x04 bukan zip")
    (tmp_path / "berita.txt").write_text("Judul Berita\n\nIsi berita.", encoding="utf-8")
    sources = read_sources([tmp_path])
    assert sorted(d.doc_id for d in sources.documents) == ["berita.txt", "laporan.pdf"]
    assert sorted(sources.skipped) == [str(tmp_path / "pindaian.pdf"), str(tmp_path / "rusak.docx")]
    assert "OCR" in sources.skipped[str(tmp_path / "pindaian.pdf")]
    with pytest.raises(DocumentError, match="pindaian.pdf"):
        read_sources([tmp_path], strict=True)


@pytest.mark.parametrize("text, title", [
    ("Pabrik Baterai Dibuka\n\nPemerintah meresmikan pabrik.", "Pabrik Baterai Dibuka"),
    ("  Judul dengan spasi  \r\n\r\nIsi.", "Judul dengan spasi"),
    ("Kalimat pertama sudah berakhir.\n\nKalimat kedua.", None),  # closing punctuation: a sentence
    ("Judul tanpa baris kosong\nlangsung isi.", None),
    ("Catatan:\n\nIsi.", None),
    ("x" * 101 + "\n\nIsi.", None),  # too long for a title
])
def test_txt_title_line(text, title):
    found = title_line(text)
    assert (found[0] if found else None) == title
    if found:
        assert text[: found[1]].strip() == title
