"""Admin API: token checks, uploads (limits, names, encodings), deletes, reindex, swaps under load.

Tests that change the index run over both stores (`store_settings`: FAISS files, then PostgreSQL).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from conftest import LiveServer
from made_files import make_pdf, make_scanned_pdf
from postgres_server import loaded_engine
from qa.indexing import build_lock, index_documents, uploads_dir
from web.app import create_app

TOKEN = "t0k3n-" + "x" * 26
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CORPUS_DOC = "indonesia-unido-industri-4.0.txt"
BOTH = pytest.mark.parametrize("store_settings", ["faiss", "postgres"], indirect=True)
HOURS = "Perpustakaan Kota Bunga buka pukul {open} sampai {close} WIB setiap hari kerja."


def doc(open_="08.00", close="15.00") -> bytes:
    return ("# Perpustakaan Kota Bunga\n\n" + HOURS.format(open=open_, close=close)
            + " Anggota boleh meminjam lima buku selama dua minggu.\n").encode()


@pytest.fixture
def admin(store_settings, embedder) -> TestClient:
    """A client of an app with its own engine over a private index (FAISS unless BOTH) and an admin token."""
    settings = store_settings.model_copy(update={"admin_token": SecretStr(TOKEN), "max_upload_bytes": 2000})
    return TestClient(create_app(settings, engine=loaded_engine(settings, embedder)), raise_server_exceptions=False)


def upload(client, name, data, headers=AUTH):
    return client.post("/api/documents", files={"file": (name, data, "text/plain")}, headers=headers)


@pytest.mark.parametrize("method, path", [("post", "/api/admin/reindex"), ("delete", f"/api/documents/{CORPUS_DOC}")])
def test_disabled_without_a_token_never_open(reference_settings, engine, method, path):
    client = TestClient(create_app(reference_settings, engine=engine))
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
        r = getattr(client, method)(path, headers=headers)
        assert r.status_code == 403 and "QA_ADMIN_TOKEN" in r.json()["detail"]
    assert upload(client, "a.txt", doc(), headers={}).status_code == 403


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"},
                                     {"Authorization": f"Bearer {TOKEN[:-1]}"}])
def test_wrong_or_missing_token_is_401(admin, headers):
    r = admin.post("/api/admin/reindex", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


@BOTH
def test_upload_answer_delete(admin):
    r = upload(admin, "../../../perpustakaan.txt", doc())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["doc_id"] == "perpustakaan.txt" and not body["replaced"] and body["index"]["documents"] == 2
    settings = admin.app.state.settings
    assert (uploads_dir(settings) / "perpustakaan.txt").read_bytes() == doc()
    assert not (settings.index_dir.parent / "perpustakaan.txt").exists()  # no path traversal
    assert "perpustakaan.txt" in [d["doc_id"] for d in admin.get("/api/documents").json()]
    chat = admin.post("/api/chat", json={"question": "Jam berapa Perpustakaan Kota Bunga buka?"}).json()
    assert chat["citations"][0]["doc_id"] == "perpustakaan.txt"

    r = admin.delete("/api/documents/perpustakaan.txt", headers=AUTH)
    assert r.status_code == 200 and r.json()["index"]["documents"] == 1
    assert admin.get("/api/documents/perpustakaan.txt").status_code == 404


@pytest.mark.parametrize("name, data, status, words", [
    ("big.txt", b"a" * 2001, 413, "QA_MAX_UPLOAD_BYTES"),
    ("latin.txt", "café".encode("latin1"), 422, "not UTF-8"),
    ("image.txt", b"\x00\x01\x02PNG", 422, "NUL"),
    ("blank.md", b"   \n", 422, "empty"),
    ("script.sh", b"echo hi", 415, "only plain text, Markdown, PDF, Word and HTML"),
    ("noext", b"teks", 415, "only plain text, Markdown, PDF, Word and HTML"),
    ("???.txt", b"teks", 422, "no usable name"),
])
def test_bad_uploads_get_a_clear_4xx(admin, name, data, status, words):
    r = upload(admin, name, data)
    assert r.status_code == status and words in r.json()["detail"]
    assert not any(uploads_dir(admin.app.state.settings).glob("*"))


def test_huge_upload_is_cut_off_by_the_body_limit(admin):
    r = upload(admin, "huge.txt", b"a" * 200_000)
    assert r.status_code == 413


def test_missing_file_field_is_422(admin):
    assert admin.post("/api/documents", headers=AUTH, data={"x": "y"}).status_code == 422


@BOTH
def test_corpus_documents_are_read_only(admin):
    assert admin.delete(f"/api/documents/{CORPUS_DOC}", headers=AUTH).status_code == 409
    assert upload(admin, CORPUS_DOC, doc()).status_code == 409
    for doc_id in ("nope.txt", "../CURRENT", "..%2F..%2Fetc%2Fpasswd"):
        assert admin.delete(f"/api/documents/{doc_id}", headers=AUTH).status_code == 404
    assert (admin.app.state.settings.index_dir / "CURRENT").exists()


@BOTH
def test_reindex_reuses_vectors_and_busy_is_409(admin):
    r = admin.post("/api/admin/reindex", headers=AUTH)
    assert r.status_code == 200 and r.json()["embedded_texts"] == 0
    with build_lock(admin.app.state.settings.index_dir):
        r = admin.post("/api/admin/reindex", headers=AUTH)
    assert r.status_code == 409 and r.headers["retry-after"] == "5"


@BOTH
def test_swaps_under_load_never_fail_or_mix(store_settings, embedder):
    """Chat keeps answering while uploads and an out-of-process style `qa index` swap the index.

    Two versions of one document differ only in the opening hours; every answer must cite
    one version consistently (the old index or the new, never a mix) and every request succeed.
    """
    settings = store_settings.model_copy(update={"admin_token": SecretStr(TOKEN), "reload_interval_s": 0.2})
    engine = loaded_engine(settings, embedder)
    versions = {doc(): "08.00", doc("09.30", "17.00"): "09.30"}
    statuses, seen, mixed, stop = [], set(), [], threading.Event()

    def ask(url):
        with httpx.Client(base_url=url, timeout=60) as c:
            while not stop.is_set():
                r = c.post("/api/chat", json={"question": "Jam berapa Perpustakaan Kota Bunga buka?", "top_k": 3})
                statuses.append(r.status_code)
                cited = {x["text"] for x in r.json().get("citations", []) if x["doc_id"] == "perpustakaan.txt"}
                hours = {v for text in cited for v in versions.values() if v in text}
                if len(hours) > 1:
                    mixed.append(cited)
                seen.update(hours)

    with LiveServer(create_app(settings, engine=engine)) as server:
        workers = [threading.Thread(target=ask, args=(server.url,)) for _ in range(4)]
        for w in workers:
            w.start()
        try:
            with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as c:
                for data in (doc(), doc("09.30", "17.00")):
                    assert c.post("/api/documents", files={"file": ("perpustakaan.txt", data)}).status_code == 201
                    time.sleep(0.5)
            # as `qa index` from another process would: new build + CURRENT flip, noticed by the poller
            (uploads_dir(settings) / "perpustakaan.txt").write_bytes(doc())
            build = live_build(settings, index_documents(settings, None, embedder=embedder, show_progress=False))
            deadline = time.monotonic() + 30
            while engine.build_name != build and time.monotonic() < deadline:
                time.sleep(0.1)
            assert engine.build_name == build
            time.sleep(0.5)
        finally:
            stop.set()
            for w in workers:
                w.join(60)
    assert statuses and set(statuses) == {200}, statuses
    assert not mixed, f"answers mixing two index versions: {mixed[:3]}"
    assert seen == {"08.00", "09.30"}  # both versions were actually served during the run


def live_build(settings, summary: str) -> str:
    """The build `qa index` just made live (as Engine.build_name names it): the schema, or the build folder."""
    from index import pgstore

    return pgstore.current_build(settings.database_dsn()) if settings.database_dsn() else Path(summary.split("-> ")[1]).name


@BOTH
def test_pdf_upload_is_cited_with_its_page_and_a_scan_is_refused(store_settings, embedder, tmp_path):
    settings = store_settings.model_copy(update={"admin_token": SecretStr(TOKEN), "max_upload_bytes": 100_000})
    client = TestClient(create_app(settings, engine=loaded_engine(settings, embedder)), raise_server_exceptions=False)
    pages = [["Bendungan Jatigede mulai diisi air pada tahun 2015."],
             ["Luas genangan Bendungan Jatigede mencapai 4.122 hektare."]]
    r = upload(client, "jatigede.pdf", make_pdf(tmp_path / "j.pdf", pages=pages, columns=1).read_bytes())
    assert r.status_code == 201 and r.json()["doc_id"] == "jatigede.pdf"
    cited = client.post("/api/chat", json={"question": "Berapa luas genangan Bendungan Jatigede?"}).json()["citations"][0]
    assert cited["doc_id"] == "jatigede.pdf" and cited["page"] == 2 and "4.122 hektare" in cited["text"]
    r = upload(client, "pindaian.pdf", make_scanned_pdf(tmp_path / "s.pdf").read_bytes())
    assert r.status_code == 422 and "OCR" in r.json()["detail"]
    assert sorted(p.name for p in uploads_dir(settings).iterdir()) == ["jatigede.pdf"]
