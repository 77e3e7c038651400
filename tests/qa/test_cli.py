"""The `qa` command line, run as a subprocess like a user runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def ask(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", "ask", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_ask_takes_its_default_top_k_from_qa_top_k(reference_settings):
    """`qa ask` used to default to 3 citations whatever QA_TOP_K said."""
    run = ask("Who is Dody Widodo?", "--json", "--index-dir", str(reference_settings.index_dir), QA_TOP_K="1")
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert len(body["citations"]) == 1 and body["language"] == "en"
    assert set(body) >= {"answer", "abstained", "citations", "timings_ms", "mode"}
