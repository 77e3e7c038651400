#!/usr/bin/env bash
# Build llama-cpp-python's OpenAI-compatible server in its own virtualenv (.venv-llm) and fetch
# the local model, for `python scripts/llm_local.py serve`. Not part of the default install or CI: it compiles
# llama.cpp from source (5-6 minutes on a quiet 2-core machine; 14 minutes with the download on
# 2026-11-29) and downloads about 1.1 GB.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${QA_LLM_VENV:-.venv-llm}"
PYTHON="${PYTHON:-python3}"

if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  "$PYTHON" -m venv "$VENV"
  # GGML_NATIVE=OFF: a binary that runs on any x86-64 CPU, not just the one that built it
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install "llama-cpp-python[server]==0.3.36"
fi
if [ -x .venv/bin/python ]; then .venv/bin/python scripts/llm_local.py fetch; else python3 scripts/llm_local.py fetch; fi
echo "ready: run \`python scripts/llm_local.py serve\`, then answer with QA_ANSWER_MODE=generative (or \"mode\": \"generative\")"
