"""Faults: kill -9 during `qa index`, corrupt index files at start-up, changed documents on disk."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, LiveServer, free_port
from index import store as store_io
from qa.engine import Engine
from qa.indexing import build_lock, index_documents
from qa.engine import config_from_settings
from web.app import create_app

QA = [sys.executable, "-m", "qa.cli"]
CORPUS_DOC = "indonesia-unido-industri-4.0.txt"
TOPICS = ["pasar tradisional", "jalan desa", "puskesmas", "sekolah dasar", "irigasi sawah", "pelabuhan ikan",
          "koperasi petani", "perpustakaan", "terminal bus", "taman kota"]


def write_docs(folder: Path, n: int) -> None:
    """`n` short, distinct Indonesian documents."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        sentences = [f"Laporan nomor {i} membahas pembangunan {topic} di kecamatan {i % 17}.",
                     f"Anggaran tahun {2000 + i % 25} untuk {topic} adalah {i * 7} juta rupiah.",
                     f"Warga menilai {topic} sudah {'baik' if i % 2 else 'cukup'} dan meminta perawatan rutin.",
                     f"Pemerintah daerah berjanji meninjau {topic} lagi pada bulan {1 + i % 12}."]
        (folder / f"laporan-{i:03d}.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")


def env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "QA_RELOAD_INTERVAL_S": "0.5"}


def test_kill_9_mid_embedding_leaves_the_previous_index_served(private_settings, tmp_path):
    index_dir = private_settings.index_dir
    before = store_io.current_build(index_dir)
    write_docs(tmp_path / "docs", 200)
    proc = subprocess.Popen([*QA, "index", str(tmp_path / "docs"), "--index-dir", str(index_dir), "--rebuild"],
                            cwd=ROOT, env=env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    seen = b""
    deadline = time.monotonic() + 120
    while b"embedding:" not in seen and time.monotonic() < deadline:  # tqdm's bar: embedding has begun
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"embedding:" in seen, seen.decode(errors="replace")
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL

    assert store_io.current_build(index_dir) == before
    store = store_io.load(index_dir)  # sha256 of every file checked
    assert [d.doc_id for d in store.documents] == [CORPUS_DOC]
    with build_lock(index_dir, wait=False):  # the kernel released the dead process's lock
        pass
    app = create_app(private_settings)  # a fresh server process would do exactly this
    with LiveServer(app) as server:
        r = httpx.post(server.url + "/api/chat", json={"question": "Apa saja empat komponen Country Programme?"},
                       timeout=60)
    assert r.status_code == 200 and r.json()["citations"][0]["doc_id"] == CORPUS_DOC


def test_a_build_cut_off_while_saving_is_ignored_then_cleaned(private_settings, embedder):
    builds = private_settings.index_dir / "builds"
    live = store_io.current_build(private_settings.index_dir)
    partial = builds / ".tmp-20200101T000000-1-000001"  # what kill -9 inside store.save leaves
    partial.mkdir()
    (partial / "records.json").write_text('{"documents": [', encoding="utf-8")
    assert store_io.load(private_settings.index_dir).path == live
    old = time.time() - 2 * 3600
    os.utime(partial, (old, old))
    index_documents(private_settings, None, embedder=embedder, show_progress=False)
    assert not partial.exists()


def corrupt(build: Path, how: str) -> str:
    """Damage one file of a build; returns the file's name."""
    if how == "truncate vectors":
        path = build / "chunk_vectors.npy"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "flip a byte":
        path = build / "dense.faiss"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "garble manifest":
        path = build / "manifest.json"
        path.write_text('{"format_version": 1, "embedder_id": ', encoding="utf-8")
    elif how in ("empty the manifest's documents", "change a manifest count"):  # valid JSON, wrong content
        path = build / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if how == "empty the manifest's documents":
            manifest["documents"] = {}
        else:
            next(iter(manifest["documents"].values()))["n_sentences"] += 1
        path.write_text(json.dumps(manifest), encoding="utf-8")
    else:
        path = build.parent.parent / "CURRENT"
        path.write_text("", encoding="utf-8")
    return path.name


@pytest.mark.parametrize("how", ["truncate vectors", "flip a byte", "garble manifest", "empty CURRENT",
                                 "empty the manifest's documents", "change a manifest count"])
def test_corrupt_index_gives_one_clear_error_naming_file_and_fix(private_settings, engine, how):
    name = corrupt(store_io.current_build(private_settings.index_dir), how)
    fresh = Engine(engine.embedder, config_from_settings(private_settings))
    with pytest.raises(store_io.StoreError) as err:
        fresh.load(private_settings.index_dir)
    assert name in str(err.value) and "qa index --rebuild" in str(err.value)
    client = TestClient(create_app(private_settings, engine=fresh))
    for path in ("/healthz", "/api/documents"):
        r = client.get(path)
        assert r.status_code == 503 and name in r.json()["detail"] and "qa index" in r.json()["detail"]
    assert fresh.reload_if_changed(private_settings.index_dir) is False  # not retried (or re-logged) every poll


def test_qa_serve_on_a_corrupt_index_logs_one_line_serves_503_and_recovers(private_settings, embedder):
    """The real command: no traceback loop; after `qa index` the running server picks up the fix."""
    name = corrupt(store_io.current_build(private_settings.index_dir), "truncate vectors")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*QA, "serve", "--port", str(port), "--index-dir", str(private_settings.index_dir)],
                            cwd=ROOT, env=env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        health = wait_for(url + "/healthz", proc)
        assert health.status_code == 503 and name in health.json()["detail"]
        index_documents(private_settings, None, embedder=embedder, show_progress=False)  # the fix it names
        deadline = time.monotonic() + 60
        while httpx.get(url + "/healthz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(url + "/healthz").status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    log = out + err
    errors = [line for line in log.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and name in errors[0] and "qa index --rebuild" in errors[0], log
    assert "Traceback" not in log


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def test_changed_document_is_picked_up_by_the_next_qa_index(tmp_path, embedder, reference_settings):
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    write_docs(docs, 3)
    settings = reference_settings.model_copy(update={"index_dir": index_dir})
    index_documents(settings, [docs], embedder=embedder, show_progress=False)
    first = store_io.load(index_dir)
    (docs / "laporan-001.txt").write_text("Jembatan gantung desa Sukamaju selesai dibangun pada tahun 2024.\n",
                                          encoding="utf-8")
    run = subprocess.run([*QA, "index", str(docs), "--index-dir", str(index_dir)], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "DEBUG" not in run.stderr  # libraries' debug chatter (bm25s resets its own level) stays out
    second = store_io.load(index_dir)
    changed = {d for d in second.manifest.documents
               if second.manifest.documents[d].checksum != first.manifest.documents[d].checksum}
    assert changed == {"laporan-001.txt"}
    assert "Jembatan gantung" in second.document("laporan-001.txt").text
    n = second.manifest.documents["laporan-001.txt"]
    assert second.manifest.embedded_texts < first.manifest.embedded_texts  # only the changed document
    assert n.n_sentences == 1
    assert json.loads((second.path / "manifest.json").read_text())["files"]  # checksums of the new build
    assert np.array_equal(first.chunk_vectors[:1], second.chunk_vectors[:1])  # laporan-000 reused as is


def test_qa_ask_without_an_index_prints_one_error_line_and_exits_1(tmp_path):
    run = subprocess.run([*QA, "ask", "Apa itu UNIDO?", "--index-dir", str(tmp_path / "none")], cwd=ROOT,
                         env=env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr  # the CLI's own line, not a log record repeating it
    assert lines[0].startswith("error: ") and "qa index" in lines[0]


TOKEN = "t" * 32


def long_document(n: int, word: str) -> bytes:
    """`n` distinct sentences: enough to embed for a few seconds, so a kill lands mid-build."""
    return " ".join(f"Catatan {word} nomor {i} mencatat {TOPICS[i % len(TOPICS)]} di desa {i % 31} pada tahun "
                    f"{1990 + i % 30}." for i in range(n)).encode("utf-8")


def start_server(index_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([*QA, "serve", "--port", str(port), "--index-dir", str(index_dir)], cwd=ROOT,
                            env={**env(), "QA_ADMIN_TOKEN": TOKEN}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    assert wait_for(url + "/healthz", proc).status_code == 200
    return proc, url


def kill_when(proc: subprocess.Popen, ready, index_dir: Path, timeout: float = 120) -> None:
    """kill -9 `proc` as soon as `ready()`, and check that its build had not gone live yet."""
    before = store_io.current_build(index_dir)
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert ready(), "the change never started"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    assert store_io.current_build(index_dir) == before, "the build finished before the kill: make it longer"


def in_background(call) -> threading.Thread:
    def run():
        try:
            call()
        except httpx.TransportError:
            pass  # the server was killed under it

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_9_while_an_upload_is_being_indexed_undoes_it_at_start_up(private_settings):
    index_dir = private_settings.index_dir
    uploaded = index_dir / "documents" / "catatan.txt"
    proc, url = start_server(index_dir)
    try:
        in_background(lambda: httpx.post(url + "/api/documents", headers={"Authorization": f"Bearer {TOKEN}"},
                                         files={"file": ("catatan.txt", long_document(400, "panjang"))}, timeout=120))
        kill_when(proc, lambda: uploaded.exists() and (index_dir / "journal" / "intent.json").exists(), index_dir)
    finally:
        proc.kill()
    assert uploaded.exists()  # what the crash left: a file that no index lists
    with LiveServer(create_app(private_settings)) as server:  # start-up resolves the interrupted change
        listed = [d["doc_id"] for d in httpx.get(server.url + "/api/documents").json()]
    assert listed == [CORPUS_DOC] and not uploaded.exists()
    assert not (index_dir / "journal" / "intent.json").exists()
    assert not list((index_dir / "documents").glob(".*.part"))


def test_kill_9_right_after_a_delete_restores_the_document_for_the_next_qa_index(private_settings, engine):
    from qa.library import Library

    index_dir = private_settings.index_dir
    library = Library(private_settings, Engine(engine.embedder, engine.config))
    library.add_document("hapus.txt", long_document(5, "hapus"))
    target = index_dir / "documents" / "hapus.txt"
    # a file put there by hand: the delete's build must embed it, which keeps that build running for a while
    (index_dir / "documents" / "tangan.txt").write_bytes(long_document(100, "tangan"))
    proc, url = start_server(index_dir)
    try:
        in_background(lambda: httpx.delete(url + "/api/documents/hapus.txt", timeout=120,
                                           headers={"Authorization": f"Bearer {TOKEN}"}))
        kill_when(proc, lambda: not target.exists(), index_dir)
    finally:
        proc.kill()
    assert (index_dir / "journal" / "intent.json").exists()
    run = subprocess.run([*QA, "index", "--index-dir", str(index_dir)], cwd=ROOT, env=env(), capture_output=True,
                         text=True, timeout=600)  # the next, unrelated `qa index`
    assert run.returncode == 0, run.stderr
    assert "rolled back" in run.stderr and target.exists()
    store = store_io.load(index_dir)
    assert store.document("hapus.txt") is not None  # on disk and served: they agree
    admin = TestClient(create_app(private_settings.model_copy(update={"admin_token": TOKEN})))
    with admin:
        r = admin.delete("/api/documents/hapus.txt", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text  # not 409 "part of the read-only corpus"


SMALL_FILES = 32 * 1024


def small_files_only(pid: int = 0) -> None:
    """Files process `pid` (0: this one) writes may not grow past 32 KiB: EFBIG, as a full disk gives ENOSPC."""
    import resource

    resource.prlimit(pid, resource.RLIMIT_FSIZE, (SMALL_FILES, SMALL_FILES))


def test_a_full_disk_during_an_upload_is_507_and_the_old_index_keeps_serving(private_settings):
    index_dir = private_settings.index_dir
    before = store_io.current_build(index_dir)
    port = free_port()
    proc = subprocess.Popen([*QA, "serve", "--port", str(port), "--index-dir", str(index_dir)], cwd=ROOT,
                            env={**env(), "QA_ADMIN_TOKEN": TOKEN}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(url + "/healthz", proc).status_code == 200
        small_files_only(proc.pid)  # once started: py3langid unpacks its model to a temporary file at start-up
        r = httpx.post(url + "/api/documents", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120,
                       files={"file": ("penuh.txt", long_document(20, "penuh"))})
        assert r.status_code == 507 and r.headers["content-type"] == "application/json", r.text
        assert "no space" in r.json()["detail"] and str(index_dir) not in r.text
        assert [d["doc_id"] for d in httpx.get(url + "/api/documents").json()] == [CORPUS_DOC]
        assert httpx.post(url + "/api/chat", json={"question": "Apa itu RCID?"}, timeout=60).status_code == 200
    finally:
        proc.terminate()
        _, log = proc.communicate(timeout=30)
    assert str(index_dir) in log  # the path goes to the log
    assert store_io.current_build(index_dir) == before
    assert not (index_dir / "documents" / "penuh.txt").exists()
    assert not [p for p in index_dir.rglob("*") if p.name.endswith(".part") or p.name.startswith(".tmp-")]
    assert not (index_dir / "journal" / "intent.json").exists()


def test_qa_index_on_a_full_disk_prints_one_error_line(private_settings):
    index_dir = private_settings.index_dir
    before = store_io.current_build(index_dir)
    run = subprocess.run([*QA, "index", "--index-dir", str(index_dir), "--rebuild"], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=600, preexec_fn=small_files_only)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: no space left to write the index")
    assert store_io.current_build(index_dir) == before
    assert not [p for p in (index_dir / "builds").iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("code, no_space", [(errno.ENOSPC, True), (errno.EDQUOT, True), (errno.EFBIG, True),
                                            (errno.EROFS, False), (errno.EACCES, False), (errno.EPERM, False)])
def test_disk_errors_become_storage_errors(code, no_space):
    from index.errors import StorageError
    from qa.indexing import writing

    with pytest.raises(StorageError) as err, writing("the index at x"):
        raise OSError(code, os.strerror(code))
    assert err.value.no_space is no_space and "the index at x" in str(err.value)
    with pytest.raises(OSError), writing("the index at x"):  # anything else is not the disk's state
        raise OSError(errno.EIO, "I/O error")
    with pytest.raises(StorageError) as err, writing("the index at x"):  # numpy's short write has no errno
        raise OSError("50688 requested and 8160 written")
    assert err.value.no_space


@pytest.fixture
def read_only(private_settings):
    """The index folder remounted read-only (a bind mount; root only, else the test is skipped)."""
    folder = str(private_settings.index_dir)
    mounted = subprocess.run(["mount", "--bind", folder, folder], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("needs root (mount --bind) to make a folder read-only")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", folder], capture_output=True).returncode != 0:
            pytest.skip("this system does not allow read-only bind mounts")
        yield private_settings
    finally:
        subprocess.run(["umount", folder], capture_output=True)


def test_a_read_only_index_folder_is_503_for_changes_and_keeps_serving(read_only):
    admin = TestClient(create_app(read_only.model_copy(update={"admin_token": TOKEN})))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with admin:
        r = admin.post("/api/documents", headers=auth, files={"file": ("ro.txt", long_document(3, "ro"))})
        assert r.status_code == 503 and "not writable" in r.json()["detail"], r.text
        assert str(read_only.index_dir) not in r.text
        assert admin.post("/api/admin/reindex", headers=auth).status_code == 503
        assert [d["doc_id"] for d in admin.get("/api/documents").json()] == [CORPUS_DOC]
    run = subprocess.run([*QA, "index", "--index-dir", str(read_only.index_dir)], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "not writable" in run.stderr.strip().splitlines()[-1]
