"""The load script, scaled down: 300 chat requests at concurrency 16 against a real `qa serve`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_300_requests_at_concurrency_16_no_errors_no_growth(reference_settings, tmp_path):
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(ROOT / "bench" / "load.py"), "--requests", "300", "--concurrency", "16",
           "--warmup", "50", "--max-seconds", "240", "--index-dir", str(reference_settings.index_dir),
           "--json", str(out)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=420)
    result = json.loads(out.read_text()) if out.exists() else {}
    print(json.dumps(result, indent=2))
    assert run.returncode == 0, run.stdout + run.stderr
    assert result["completed"] == 300 and result["errors"] == 0, result["error_kinds"]
    assert result["rss_growth_after_warmup_pct"] < 20
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert 0 <= result["cpu_steal_pct"] <= 100
