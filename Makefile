# `make run`: set up, index the bundled corpus, serve on http://127.0.0.1:8000
# `make test`: set up (with test tools and Debian's chromium), run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run setup test test-setup index serve bench reader

run: setup
	$(VENV)/bin/qa index
	$(VENV)/bin/qa serve

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py index/embedders/e5engine/e5.c index/embedders/e5engine/e5.h
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

test-setup: $(VENV)/.test-installed
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

$(VENV)/.test-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet torch==2.13.0  # first and pinned: the st extra must not pull a CUDA torch
	$(PY) -m pip install --quiet -e '.[test,st,train,postgres,ray]' torch==2.13.0
	touch $@

test: test-setup
	$(PY) -m pytest -q

index: setup
	$(VENV)/bin/qa index

serve: setup
	$(VENV)/bin/qa serve

# `make bench`: the full load test (10,000 chat requests at concurrency 16; several minutes on 2 cores)
bench: setup
	$(PY) bench/load.py --requests 10000 --concurrency 16 -v --json bench/results/load-10000.json

# `make reader`: retrain the learned reader from ../shared/train-data, seeded (docs/reader.md). On 2 CPU
# cores the 3 epochs take longer than 2 hours: MINUTES stops it (validated, the best epoch kept) within
# them; `make reader DEVICE=cuda MINUTES=0` on a GPU (minutes). Writes runs/reader/ (reader-q4.npz,
# reader.json, train.log, report.json); copy the first two to qa/models/reader/ to ship them.
DEVICE ?= cpu
MINUTES ?= 115
reader: test-setup
	$(PY) -m eval.reader_pack --out runs/reader-pack
	$(PY) -m eval.reader_net --pack runs/reader-pack --out runs/reader --layers 6 --lr 1.5e-4 --qat-epochs 3 \
		--batch 64 --epochs 3 --seed 13 --device $(DEVICE) --minutes $(MINUTES)
