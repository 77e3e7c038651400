"""Faults: kill -9 during `qa index`, corrupt index files at start-up, changed documents on disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
    else:
        path = build.parent.parent / "CURRENT"
        path.write_text("", encoding="utf-8")
    return path.name


@pytest.mark.parametrize("how", ["truncate vectors", "flip a byte", "garble manifest", "empty CURRENT"])
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
