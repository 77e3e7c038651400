"""One `qa index` over a PDF, a Word file, a web page and a .txt; answers cite them through real HTTP.

Served from the FAISS files, then from the same build written into PostgreSQL (pages and titles included).
"""
import httpx
import pytest
from conftest import LiveServer
from made_files import make_docx, make_html, make_pdf, make_scanned_pdf
from postgres_server import fresh_database, in_postgres
from typer.testing import CliRunner

from qa.cli import app
from qa.settings import Settings
from web.app import create_app

RELEASE = ("Pelabuhan Patimban Mulai Beroperasi\n\n"
           "Pelabuhan Patimban di Subang mulai melayani kapal kontainer pada bulan Desember. "
           "Pelabuhan itu dibangun dengan pinjaman dari Jepang.\n")


@pytest.fixture(scope="module", params=["faiss", "postgres"])
def server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    make_pdf(folder / "laporan.pdf")
    make_docx(folder / "profil.docx")
    make_html(folder / "festival.html")
    make_scanned_pdf(folder / "pindaian.pdf")
    (folder / "rilis.txt").write_text(RELEASE, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("index")
    result = CliRunner().invoke(app, ["index", str(folder), "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "indexed 4 documents" in result.output and "pindaian.pdf" in result.output and "OCR" in result.output
    settings = Settings(index_dir=index_dir, corpus=[folder], _env_file=None)
    if request.param == "postgres":  # the same documents, their vectors reused, written into a database
        dsn = fresh_database(request.getfixturevalue("postgres_dsn"), "formats")
        settings = in_postgres(settings, dsn, request.getfixturevalue("embedder"))
    with LiveServer(create_app(settings)) as live:
        yield live.url


@pytest.mark.parametrize("question, doc_id, words, page", [
    ("Dari mana nikel untuk katoda pabrik baterai dipasok?", "laporan.pdf", "Morowali", 2),
    ("Berapa nilai investasi tahap pertama pabrik baterai Batang?", "laporan.pdf", "Rp 15 triliun", 1),
    ("Siapa ketua Koperasi Nelayan Sindang?", "profil.docx", "Ratna Suminar", None),
    ("Berapa ukuran layang-layang terbesar di festival Pangandaran?", "festival.html", "dua puluh meter", None),
    ("Dari mana pinjaman untuk membangun Pelabuhan Patimban?", "rilis.txt", "Jepang", None),
])
def test_each_format_is_answered_with_checked_citations(server, question, doc_id, words, page):
    body = httpx.post(f"{server}/api/chat", json={"question": question, "top_k": 3}, timeout=60).json()
    assert body["abstained"] is False
    first = body["citations"][0]
    assert first["doc_id"] == doc_id and words in first["text"] and first["page"] == page
    for c in body["citations"]:
        doc = httpx.get(f"{server}/api/documents/{c['doc_id']}", timeout=10).json()
        assert doc["text"][c["start"] : c["end"]] == c["text"]


def test_titles_come_from_metadata_headings_and_title_lines(server):
    titles = {d["doc_id"]: d["title"] for d in httpx.get(f"{server}/api/documents", timeout=10).json()}
    assert titles == {"laporan.pdf": "Laporan Pabrik Baterai Batang", "profil.docx": "Profil Koperasi Nelayan Sindang",
                      "festival.html": "Festival Layang-Layang Pangandaran Dibuka",
                      "rilis.txt": "Pelabuhan Patimban Mulai Beroperasi"}
    release = httpx.get(f"{server}/api/documents/rilis.txt", timeout=10).json()
    assert release["text"] == RELEASE  # a .txt is served verbatim, title line included...
    assert release["text"][release["sentences"][0]["start"]:].startswith("Pelabuhan Patimban di Subang")  # ...not cited
