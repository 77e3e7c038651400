"""Scale-out over one PostgreSQL: two real `qa serve` processes answer while a third `qa index` rebuilds.

Every process has its own index folder (its FAISS build is only the local cache `qa index` reuses vectors
from); what they share is the database. The servers pick up the new build by polling `qa_current`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port
from postgres_server import fresh_database, indexed_settings

QA = [sys.executable, "-m", "qa.cli"]
CORPUS_DOC = ROOT / "corpus" / "indonesia-unido-industri-4.0.txt"
QUESTIONS = ["Who is the UNIDO representative for Indonesia?", "Apa itu Making Indonesia 4.0?",
             "Berapa poin strategi implementasi industri 4.0 dalam Bali Agenda?",
             "Siapa yang menandatangani kerja sama dengan UNIDO?"]
NEW_DOC = "pelabuhan-tanjung-sari.txt"
VERSIONS = [f"Pelabuhan Tanjung Sari di Kabupaten Lombok Timur mulai beroperasi pada tanggal {day} Maret 2026. "
            "Pelabuhan itu dapat melayani empat puluh kapal nelayan sekaligus.\n" for day in (17, 24)]
NEW_QUESTION = "Kapan Pelabuhan Tanjung Sari mulai beroperasi?"
MAX_PER_THREAD = 250  # bounded: two threads per server ask until both serve the new build, at most this many
DEADLINE_S = 75  # and stop by then, whatever happens
POOL = 2  # connections per server (QA_DATABASE_POOL_SIZE)
SLOW_RELOAD_S = 15  # much longer than two `qa index` runs here (about 1.5 s each)


def _env(dsn: str, index_dir: Path, reload_s: float = 0.2) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "QA_STORE": "postgres", "QA_DATABASE_URL": dsn,
            "QA_INDEX_DIR": str(index_dir), "QA_RELOAD_INTERVAL_S": str(reload_s),
            "QA_EMBED_THREADS": "1", "QA_DATABASE_POOL_SIZE": str(POOL)}  # 3 processes, 2 cores


def _serve(dsn: str, index_dir: Path, log: Path, reload_s: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([*QA, "serve", "--port", str(port)], cwd=ROOT, env=_env(dsn, index_dir, reload_s),
                                stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not healthy within {timeout}s:\n{log.read_text()}")


def _check(response: httpx.Response, texts: dict[str, set[str]]) -> str | None:
    """None for a 200 whose citations quote one version of their documents exactly; else what is wrong."""
    if response.status_code != 200:
        return f"{response.status_code} {response.text[:200]}"
    body = response.json()
    if not body["citations"]:
        return f"no citation: {body['answer'][:100]}"
    for c in body["citations"]:
        if not any(text[c["start"]:c["end"]] == c["text"] for text in texts.get(c["doc_id"], ())):
            return f"citation not at its offsets: {c}"
    return None


def _ask_repeatedly(url: str, texts: dict, done: threading.Event, log: list) -> None:
    """Chat requests until `done` is set (at most MAX_PER_THREAD, until DEADLINE_S); each outcome appended to `log`."""
    stop = time.monotonic() + DEADLINE_S
    with httpx.Client(timeout=30) as client:
        for i in range(MAX_PER_THREAD):
            if done.is_set() or time.monotonic() > stop:
                return
            started = time.monotonic()
            try:
                problem = _check(client.post(url + "/api/chat", json={"question": QUESTIONS[i % len(QUESTIONS)]}),
                                 texts)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.append((url, started, time.monotonic(), problem))
            time.sleep(0.2)  # two cores: leave the indexer some


def _serves(url: str, text: str) -> bool:
    """Whether the server at `url` has the build whose new document reads `text`."""
    r = httpx.get(f"{url}/api/documents/{NEW_DOC}", timeout=10)
    return r.status_code == 200 and r.json()["text"] == text


def _reindex(dsn: str, index_dir: Path, extra: Path, text: str, spans: list) -> None:
    """`qa index` in a third process, the new document reading `text`; its (start, end) appended to `spans`."""
    (extra / NEW_DOC).write_text(text, encoding="utf-8")
    began = time.monotonic()
    run = subprocess.run([*QA, "index", str(CORPUS_DOC), str(extra)], cwd=ROOT, env=_env(dsn, index_dir),
                         capture_output=True, text=True, timeout=120)
    spans.append((began, time.monotonic()))
    assert run.returncode == 0, run.stdout + run.stderr


def _wait_serving(servers: list, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(_serves(url, text) for _, url in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_serves(url, text) for _, url in servers), "a server still serves an old build"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
def test_two_servers_answer_while_a_third_process_reindexes(reference_settings, postgres_dsn, embedder, tmp_path):
    from index import pgstore

    dsn = fresh_database(postgres_dsn, "scaleout")
    indexed_settings(reference_settings, dsn, embedder, tmp_path / "seed")
    dirs = [tmp_path / f"index-{i}" for i in range(3)]  # two servers, one indexer: each its own folder
    for d in dirs:
        shutil.copytree(reference_settings.index_dir, d)
    extra = tmp_path / "extra"
    extra.mkdir()
    texts = {CORPUS_DOC.name: {CORPUS_DOC.read_text(encoding="utf-8")}, NEW_DOC: set(VERSIONS)}
    procs, outcomes, spans, done = [], [], [], threading.Event()
    try:
        # one server polls often, the other so seldom that two builds commit before it looks: the second
        # build would drop (keep=2) the one that server still answers from, were it not locked
        servers = [_serve(dsn, d, tmp_path / f"serve-{i}.log", reload_s)
                   for i, (d, reload_s) in enumerate(zip(dirs, (0.2, SLOW_RELOAD_S)))]
        procs += [p for p, _ in servers]
        for i, (proc, url) in enumerate(servers):
            _wait_healthy(url, proc, tmp_path / f"serve-{i}.log")
        threads = [threading.Thread(target=_ask_repeatedly, args=(url, texts, done, outcomes))
                   for _, url in servers for _ in range(2)]
        began = time.monotonic()
        for t in threads:
            t.start()
        builds = [pgstore.current_build(dsn)]
        for text in VERSIONS:
            _reindex(dsn, dirs[2], extra, text, spans)
            builds.append(pgstore.current_build(dsn))
        slow_status = httpx.get(f"{servers[1][1]}/api/documents/{NEW_DOC}", timeout=10).status_code
        assert slow_status == 404, "the slow server reloaded before the second build: raise SLOW_RELOAD_S"
        _wait_serving(servers, VERSIONS[-1], timeout=SLOW_RELOAD_S + 20)
        reloaded = time.monotonic() - spans[-1][1]
        schemas_then = _schemas(dsn)
        _reindex(dsn, dirs[2], extra, VERSIONS[0], spans)  # nobody answers from the first build now: dropped
        _wait_serving(servers, VERSIONS[0], timeout=SLOW_RELOAD_S + 20)
        time.sleep(1)  # a few requests more, all on the newest build
        done.set()
        for t in threads:
            t.join(DEADLINE_S)
        elapsed = time.monotonic() - began
        for _, url in servers:
            body = httpx.post(url + "/api/chat", json={"question": NEW_QUESTION}, timeout=30).json()
            assert body["citations"][0]["doc_id"] == NEW_DOC and "17 Maret" in body["citations"][0]["text"]
        connections = _connections(dsn)
    finally:
        done.set()
        for proc in procs:
            _stop(proc)
    errors = [o for o in outcomes if o[3] is not None]
    during = [o for o in outcomes if any(o[1] < b and o[2] > a for a, b in spans)]
    print(f"\nscale-out: {len(outcomes)} requests to 2 servers, {len(errors)} errors, {len(during)} while "
          f"`qa index` ran ({', '.join(f'{b - a:.1f} s' for a, b in spans)}), both servers on the second build "
          f"{reloaded:.1f} s after it, {elapsed:.1f} s in all; "
          f"{connections} connections open at the end")
    assert errors == [], errors[:5]
    assert len(outcomes) < 4 * MAX_PER_THREAD, "the requests ran out before the servers were on the last build"
    assert len(set(builds)) == 3 and builds[0] in schemas_then, "the first build was dropped while served"
    assert builds[0] not in _schemas(dsn) and len(_schemas(dsn)) == 2, "an unused build was kept"
    assert all(sum(o[0] == url for o in during) >= 10 for _, url in servers), "too little overlap to test anything"
    assert connections <= 2 * POOL, "a server kept the connections of builds it no longer serves"


def _schemas(dsn: str) -> list[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qa_build_%'")]


def _connections(dsn: str) -> int:
    """Connections to the test's database open for over a second (not the servers' short polls), other than this one."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND backend_start < now() - interval '1 second'").fetchone()[0]
