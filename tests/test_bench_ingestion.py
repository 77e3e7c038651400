"""The ingestion benchmarks (bench/ingest.py, bench/scale.py, bench/pgscale.py), scaled down to seconds."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from eval.datasets import SHARED

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared eval passages beside the checkout")


def run_json(*args: str, timeout: int) -> dict:
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    return json.loads("\n".join(lines[lines.index("{"):]))  # the indented report after any one-line rows


def test_ingest_reports_both_rates_on_the_same_passages():
    report = run_json(str(ROOT / "bench" / "ingest.py"), "--passages", "6", "--chunk-vectors", "own,sentences",
                      timeout=300)
    assert report["passages"] == 6 and report["counts"]["documents"] == 6
    assert all(rate > 0 for rate in report["raw_passages_per_s"]) and report["index_passages_per_s"] > 0
    assert 0 < report["ratio"] and set(report["phases_s"]) == {"passages", "vocabulary", "rest"}
    own, composed = report["builds"]["own"], report["builds"]["sentences"]
    assert own["recipe"].startswith("v5") and composed["recipe"].startswith("v6")  # the one-pass engine's recipes
    assert composed["counts"] == own["counts"] and composed["embedded_texts"] < own["embedded_texts"]
    mine, theirs = own["tokens"], composed["tokens"]  # the ratio split into the recipe's and the engine's factors
    assert mine["passage_tokens"] == theirs["passage_tokens"] > 0
    assert theirs["build_tokens"] < mine["build_tokens"] == sum(mine["build_tokens_by_call"].values())
    # the same vocabulary is embedded either way; v6 saves passage tokens only (no pass per chunk)
    assert mine["build_tokens_by_call"]["embed_queries"] == theirs["build_tokens_by_call"]["embed_queries"] > 0
    assert theirs["build_tokens_by_call"]["embed_passages_sparse"] < mine["build_tokens_by_call"]["embed_passages_sparse"]


@pytest.mark.slow
def test_scale_builds_serves_and_asks_each_size_flat_and_hnsw(tmp_path):
    report = run_json(str(ROOT / "bench" / "scale.py"), "--sizes", "12,30", "--seed-passages", "8", "--queries", "3",
                      "--work", str(tmp_path / "scale"), timeout=600)
    assert [(r["size"], r["dense"]) for r in report["rows"]] == [(12, "flat"), (12, "hnsw"), (30, "flat"), (30, "hnsw")]
    for row in report["rows"]:
        assert row["chunks"] > 0 and row["disk_mb"] > 0 and row["rss_mb"] > 0
        assert 0 < row["median_ms"] <= row["p95_ms"]
    assert set(report["largest_over_smallest_median"]) == {"flat", "hnsw"}


@pytest.mark.slow
def test_pgscale_serves_each_size_from_faiss_and_postgres(tmp_path, postgres_dsn):
    report = run_json(str(ROOT / "bench" / "pgscale.py"), "--sizes", "12", "--seed-passages", "8", "--queries", "3",
                      "--work", str(tmp_path / "scale"), "--database-url", postgres_dsn, timeout=600)
    assert [(r["size"], r["dense"]) for r in report["rows"]] == [(12, "flat"), (12, "hnsw"), (12, "postgres")]
    pg = report["rows"][2]
    assert pg["write_s"] >= 0 and pg["database_mb"] > 0 and 0 < pg["median_ms"] <= pg["p95_ms"]
    assert all(r["same_first_citation_as_flat"] == 1.0 for r in report["rows"])  # 12 chunks: exact either way
