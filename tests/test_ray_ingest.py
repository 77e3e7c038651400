"""`qa index --ray`: a real two-node Ray cluster on loopback embeds, the build lands in PostgreSQL, a server answers.

The cluster (tests/ray_cluster.py: head 127.0.0.2, worker 127.0.0.3, one logical CPU each, actors of half a
CPU) is started for the module and stopped by PID; skipped, with the reason, only where Ray can't start.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, LiveServer
from postgres_server import fresh_database, loaded_engine
from ray_cluster import HEAD, WORKER, RayCluster

QA = [sys.executable, "-m", "qa.cli", "index"]
SKIP = "Ray is not installed: install the extra (`pip install -e '.[ray]'`, done by `make test-setup`)"
CORPUS_DOC = ROOT / "corpus" / "indonesia-unido-industri-4.0.txt"
PORT_DOC = ("pelabuhan-tanjung-sari.txt", "Pelabuhan Tanjung Sari\n\nPelabuhan Tanjung Sari di Kabupaten Lombok Timur "
            "mulai beroperasi pada tanggal 17 Maret 2026. Pelabuhan itu dapat melayani empat puluh kapal nelayan "
            "sekaligus. Dermaganya dibangun oleh pemerintah provinsi dengan dana daerah.\n")
DAM_DOC = ("bendungan-way-sekampung.txt", "Bendungan Way Sekampung\n\nBendungan Way Sekampung di Lampung diresmikan "
           "pada tahun 2021. Bendungan itu mengairi sawah seluas 55 ribu hektare. Airnya juga dipakai untuk "
           "pembangkit listrik tenaga air berkapasitas 5,4 megawatt.\n")
QUESTIONS = [("Kapan Pelabuhan Tanjung Sari mulai beroperasi?", PORT_DOC[0]),
             ("Berapa luas sawah yang diairi Bendungan Way Sekampung?", DAM_DOC[0]),
             ("Who is the UNIDO representative for Indonesia?", CORPUS_DOC.name)]


def _env(**extra: str) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QA_EMBED_THREADS": "1", **extra}


@pytest.fixture(scope="module")
def ray_cluster():
    """A two-node cluster for the module; its processes stopped by PID at the end, none left behind."""
    pytest.importorskip("ray.data", reason=SKIP)
    cluster = RayCluster(cpus=1, env=_env())  # PYTHONPATH: the nodes' workers import this checkout
    try:
        cluster.start()
    except (OSError, RuntimeError) as exc:
        cluster.stop()
        pytest.skip(f"Ray could not start here: {exc}")
    yield cluster
    assert cluster.stop() == [], "processes of the Ray cluster outlived `ray start --block` and were killed"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    docs = tmp_path_factory.mktemp("ray-docs")
    shutil.copy(CORPUS_DOC, docs)
    for name, text in (PORT_DOC, DAM_DOC):
        (docs / name).write_text(text, encoding="utf-8")
    return docs


def _pg_env(dsn: str, index_dir: Path) -> dict:
    return _env(QA_STORE="postgres", QA_DATABASE_URL=dsn, QA_INDEX_DIR=str(index_dir),
                QA_EMBED_BATCH_SIZE="8")  # small batches: several per job, so both actors get some


@pytest.mark.slow
def test_ray_build_equals_the_local_one_and_a_server_answers_from_it(ray_cluster, folder, postgres_dsn, embedder,
                                                                     reference_settings, tmp_path):
    from pydantic import SecretStr

    from index import pgstore
    from qa.indexing import index_documents
    from web.app import create_app

    ray_dsn, local_dsn = fresh_database(postgres_dsn, "ray_build"), fresh_database(postgres_dsn, "local_build")
    run = subprocess.run([*QA, "--ray", ray_cluster.address, "--ray-actors", "2", "--ray-cpus", "0.5", str(folder)],
                         cwd=ROOT, env=_pg_env(ray_dsn, tmp_path / "ray-index"), capture_output=True, text=True,
                         timeout=280)
    assert run.returncode == 0, run.stdout + run.stderr
    per_node = dict(re.findall(r"(127\.0\.0\.\d+): (\d+)", run.stdout.rsplit("texts per node", 1)[-1]))
    assert set(per_node) == {HEAD, WORKER} and all(int(n) > 0 for n in per_node.values()), run.stdout
    assert "embedding: 100%" in run.stderr  # progress shown

    local = reference_settings.model_copy(update={"index_dir": tmp_path / "local-index", "store": "postgres",
                                                  "database_url": SecretStr(local_dsn)})
    index_documents(local, [folder], embedder=embedder, show_progress=False)
    _assert_same_build(pgstore.load(ray_dsn), pgstore.load(local_dsn), ray_dsn, local_dsn)

    served = local.model_copy(update={"index_dir": tmp_path / "ray-index", "database_url": SecretStr(ray_dsn)})
    local_engine = loaded_engine(local, embedder)
    with LiveServer(create_app(served, engine=loaded_engine(served, embedder))) as server:
        import httpx

        for question, doc_id in QUESTIONS:
            body = httpx.post(server.url + "/api/chat", json={"question": question}, timeout=60).json()
            assert not body["abstained"] and body["citations"][0]["doc_id"] == doc_id, (question, body)
            for c in body["citations"]:
                text = (folder / c["doc_id"]).read_text(encoding="utf-8")
                assert text[c["start"]:c["end"]] == c["text"], c
            from qa.pipeline import answer

            same = answer(question, local_engine)
            assert [(c["doc_id"], c["start"], c["end"]) for c in body["citations"]] == \
                   [(c.doc_id, c.start, c.end) for c in same.citations]


@pytest.mark.slow
def test_a_pool_that_would_take_every_cpu_is_refused(ray_cluster):
    from index.embedders.cluster import ClusterEmbedder, ClusterOptions
    from index.errors import EmbedderError

    with pytest.raises(EmbedderError, match=rf"2 actors x 1 CPUs need 2 CPUs; the cluster at {ray_cluster.address} "
                                            r"has 2 and Ray Data needs some left: lower --ray-actors or --ray-cpus"):
        ClusterEmbedder(ClusterOptions(address=ray_cluster.address, actors=2, cpus=1.0))


def _assert_same_build(ray_store, local_store, ray_dsn: str, local_dsn: str) -> None:
    """Same texts, offsets, vocabulary and vectors, to the bit (dense, latent terms, vocabulary vectors)."""
    assert [(c.doc_id, c.start, c.end) for c in ray_store.chunks] == [(c.doc_id, c.start, c.end)
                                                                       for c in local_store.chunks]
    assert ray_store.manifest.embedder_id == local_store.manifest.embedder_id
    assert ray_store.manifest.embed_recipe == local_store.manifest.embed_recipe
    assert ray_store.vocab == local_store.vocab and np.array_equal(ray_store.vocab_vectors, local_store.vocab_vectors)
    for name in ("chunk_sparse", "sentence_sparse"):
        a, b = getattr(ray_store, name), getattr(local_store, name)
        assert a.shape == b.shape and (a != b).nnz == 0, name
    for table in ("chunks", "sentences"):
        assert np.array_equal(_vectors(ray_dsn, ray_store.schema, table), _vectors(local_dsn, local_store.schema, table))


def _vectors(dsn: str, schema: str, table: str) -> np.ndarray:
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(dsn) as conn:
        register_vector(conn)
        return np.array([r[0] for r in conn.execute(f"SELECT embedding FROM {schema}.{table} ORDER BY pos")])


def _index(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*QA, *args, str(CORPUS_DOC)], cwd=ROOT, env=_env(**env), capture_output=True, text=True,
                          timeout=120)


def test_ray_without_postgres_says_so(tmp_path):
    run = _index("--ray", f"{HEAD}:1", QA_STORE="faiss", QA_INDEX_DIR=str(tmp_path))
    assert run.returncode == 1 and "`qa index --ray` writes the build to PostgreSQL: set QA_STORE=postgres" in run.stderr


def test_an_unreachable_cluster_is_named(tmp_path):
    pytest.importorskip("ray.data", reason=SKIP)
    run = _index("--ray", f"{HEAD}:1", QA_STORE="postgres", QA_DATABASE_URL="postgresql://postgres@127.0.0.1:1/x",
                 QA_INDEX_DIR=str(tmp_path))
    assert run.returncode == 1 and f"can't reach the Ray cluster at {HEAD}:1" in run.stderr, run.stderr


def test_without_ray_the_extra_is_named(monkeypatch):
    from index.embedders import cluster
    from index.errors import EmbedderError

    monkeypatch.setattr(cluster, "ray", None)
    with pytest.raises(EmbedderError, match=r"needs Ray Data; install the ray extra: pip install 'qa-indonesia\[ray\]'"):
        cluster.ClusterEmbedder(cluster.ClusterOptions(address=f"{HEAD}:1"))
