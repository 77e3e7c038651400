"""The document library: safe names, upload checks, add/remove/reindex with rollback, one build at a time."""
from __future__ import annotations

import pytest

from index.documents import DEFAULT_CORPUS
from index.errors import DocumentError
from qa.engine import Engine
from qa.errors import (DocumentTooLarge, IndexBusy, InvalidDocument, ReadOnlyDocument, UnknownDocument,
                       UnsupportedDocument)
from qa.indexing import build_lock, document_sources, uploads_dir
from qa.library import Library, check_text, safe_name
from qa.pipeline import answer
from qa.engine import config_from_settings

CORPUS_DOC = "indonesia-unido-industri-4.0.txt"
LIBRARY_TEXT = ("# Perpustakaan Kota Bunga\n\nPerpustakaan Kota Bunga buka setiap hari Senin sampai Jumat. "
                "Jam layanan perpustakaan adalah pukul 08.00 sampai 15.00 WIB. "
                "Anggota boleh meminjam paling banyak lima buku selama dua minggu.\n")


@pytest.mark.parametrize("given, expected", [
    ("laporan.txt", "laporan.txt"),
    ("Catatan Rapat.MD", "Catatan_Rapat.md"),
    ("../../etc/cron.d/evil.txt", "evil.txt"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    ("/abs/path/x.txt", "x.txt"),
    (".hidden.txt", "hidden.txt"),
    ("über café.txt", "über_café.txt"),
    ("a?b*c|d<e>.txt", "a_b_c_d_e.txt"),
    ("ｆｕｌｌ．ｔｘｔ", "full.txt"),  # full-width forms normalize (NFKC) before the checks
])
def test_safe_name_keeps_a_flat_harmless_name(given, expected):
    assert safe_name(given) == expected


@pytest.mark.parametrize("given", ["evil.exe", "notes", "x.txt.sh", "report.txt\x00.exe", "", "../.."])
def test_safe_name_rejects_other_types(given):
    with pytest.raises(UnsupportedDocument, match="only plain text, Markdown, PDF, Word and HTML"):
        safe_name(given)


@pytest.mark.parametrize("given", ["....txt", "/.txt", "???.md"])
def test_safe_name_rejects_names_with_nothing_left(given):
    with pytest.raises(InvalidDocument, match="no usable name"):
        safe_name(given)


def test_safe_name_caps_the_length_in_bytes():
    name = safe_name("é" * 300 + ".txt")
    assert len(name.encode()) <= 124 and name.endswith(".txt")


@pytest.mark.parametrize("data, error, message", [
    (b"x" * 11, DocumentTooLarge, "upload limit of 10 bytes"),
    ("Teks dalam latin1: café".encode("latin1"), InvalidDocument, "not UTF-8 .*iconv"),
    (b"PNG\x00\x00IHDR", InvalidDocument, "NUL bytes"),
    (b"  \n\t ", InvalidDocument, "empty"),
    (b"\xef\xbb\xbf  ", InvalidDocument, "empty"),  # a BOM alone is no content
])
def test_check_text_rejects_with_the_fix(data, error, message):
    with pytest.raises(error, match=message):
        check_text("d.txt", data, limit=10 if error is DocumentTooLarge else 1000)


def test_uploads_are_indexed_with_the_corpus_and_the_corpus_only_by_default(private_settings, tmp_path):
    assert document_sources(private_settings) == [DEFAULT_CORPUS]  # no uploads yet
    folder = uploads_dir(private_settings)
    folder.mkdir()
    (folder / "a.txt").write_text("Isi.", encoding="utf-8")
    assert document_sources(private_settings) == [DEFAULT_CORPUS, folder]
    assert document_sources(private_settings, [tmp_path]) == [tmp_path, folder]  # `qa index PATH` keeps uploads


@pytest.fixture
def library(private_settings, embedder) -> Library:
    engine = Engine(embedder, config_from_settings(private_settings))
    engine.load(private_settings.index_dir)
    return Library(private_settings, engine)


def test_add_answer_replace_remove(library):
    corpus_before = (DEFAULT_CORPUS / CORPUS_DOC).read_bytes()
    added = library.add_document("../Perpustakaan.txt", LIBRARY_TEXT.encode())
    assert (added.doc_id, added.replaced) == ("Perpustakaan.txt", False)
    assert added.index.documents == 2 and added.index.embedded_texts > 0
    assert (library.folder / "Perpustakaan.txt").read_text(encoding="utf-8") == LIBRARY_TEXT
    ans = answer("Jam berapa Perpustakaan Kota Bunga buka?", library.engine)
    assert ans.citations[0].doc_id == "Perpustakaan.txt"

    replaced = library.add_document("Perpustakaan.txt", LIBRARY_TEXT.replace("lima buku", "tujuh buku").encode())
    assert replaced.replaced and library.engine.store.document("Perpustakaan.txt").text.count("tujuh buku") == 1

    removed = library.remove_document("Perpustakaan.txt")
    assert removed.index.documents == 1 and library.engine.store.document("Perpustakaan.txt") is None
    assert not (library.folder / "Perpustakaan.txt").exists()
    assert (DEFAULT_CORPUS / CORPUS_DOC).read_bytes() == corpus_before  # the bundled corpus is never written


def test_corpus_documents_are_read_only(library):
    with pytest.raises(ReadOnlyDocument, match="read-only corpus"):
        library.remove_document(CORPUS_DOC)
    with pytest.raises(ReadOnlyDocument, match="another file name"):
        library.add_document(CORPUS_DOC, b"Teks pengganti.")


@pytest.mark.parametrize("doc_id", ["nope.txt", "../CURRENT", "../../etc/passwd", "/etc/hostname", "", "."])
def test_remove_unknown_or_outside_is_404(library, doc_id):
    with pytest.raises(UnknownDocument):
        library.remove_document(doc_id)
    assert (library.settings.index_dir / "CURRENT").exists()


def test_a_failed_build_undoes_the_upload_and_keeps_the_old_index(library):
    live = library.engine.store.path
    library.folder.mkdir(parents=True)
    (library.folder / "rusak.txt").write_bytes("bukan utf-8: café".encode("latin1"))  # breaks every build
    with pytest.raises(DocumentError, match="rusak.txt is not UTF-8"):
        library.add_document("baru.txt", LIBRARY_TEXT.encode())
    assert not (library.folder / "baru.txt").exists()
    assert library.engine.store.path == live
    assert sorted(p.name for p in library.folder.iterdir()) == ["rusak.txt"]  # no temporary files left


def test_one_build_at_a_time(library):
    with build_lock(library.settings.index_dir):  # e.g. `qa index` running in another process
        with pytest.raises(IndexBusy, match="retry when it has finished"):
            library.reindex()
        with pytest.raises(IndexBusy):
            library.add_document("baru.txt", LIBRARY_TEXT.encode())
    assert not (library.folder / "baru.txt").exists()
    assert library.reindex().embedded_texts == 0  # lock released: nothing changed, nothing embedded
