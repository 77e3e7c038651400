import logging

import pytest

from index.build import split_document
from index.documents import DEFAULT_CORPUS, load_documents
from index.errors import DocumentError


def test_bundled_corpus_is_default_and_verbatim():
    docs = load_documents()
    assert [d.doc_id for d in docs] == ["indonesia-unido-industri-4.0.txt"]
    assert docs[0].text == (DEFAULT_CORPUS / "indonesia-unido-industri-4.0.txt").read_text(encoding="utf-8")


def test_folders_are_recursive_and_ids_relative(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text("# Judul Satu\n\nIsi pertama.", encoding="utf-8")
    (tmp_path / "two.txt").write_text("Isi kedua.", encoding="utf-8")
    (tmp_path / "skip.png").write_bytes(b"\x89PNG")
    docs = {d.doc_id: d for d in load_documents([tmp_path])}
    assert set(docs) == {"a/one.md", "two.txt"}
    assert docs["a/one.md"].title == "Judul Satu"
    assert docs["two.txt"].title == "two"


def test_non_utf8_names_the_file(tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes("Kemenperin mendorong kerja sama — café".encode("cp1252"))
    with pytest.raises(DocumentError, match="latin.txt is not UTF-8"):
        load_documents([tmp_path])


def test_empty_file_is_skipped_with_warning(tmp_path, caplog):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "full.txt").write_text("Ada isi.", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        docs = load_documents([tmp_path])
    assert [d.doc_id for d in docs] == ["full.txt"]
    assert "empty.txt" in caplog.text


def test_missing_path_and_nothing_to_index(tmp_path):
    with pytest.raises(DocumentError, match="does not exist"):
        load_documents([tmp_path / "nope"])
    with pytest.raises(DocumentError, match="no non-empty"):
        load_documents([tmp_path])


def test_checksum_changes_with_text(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("Satu.", encoding="utf-8")
    first = load_documents([f])[0].checksum
    f.write_text("Dua.", encoding="utf-8")
    assert load_documents([f])[0].checksum != first


def test_a_txt_title_line_titles_the_document_and_is_not_cited(tmp_path):
    (tmp_path / "rilis.txt").write_text("Pabrik Baterai Dibuka di Batang\n\nPemerintah meresmikan pabrik itu. "
                                        "Kapasitasnya 10 GWh.", encoding="utf-8")
    (tmp_path / "catatan.txt").write_text("Kalimat pertama.\n\nKalimat kedua.", encoding="utf-8")
    docs = {d.doc_id: d for d in load_documents([tmp_path])}
    assert docs["rilis.txt"].title == "Pabrik Baterai Dibuka di Batang"
    assert [s.text for s in split_document(docs["rilis.txt"])] == ["Pemerintah meresmikan pabrik itu.",
                                                                   "Kapasitasnya 10 GWh."]
    assert docs["catatan.txt"].title == "catatan"  # a first line that is a sentence stays one
    assert len(split_document(docs["catatan.txt"])) == 2
