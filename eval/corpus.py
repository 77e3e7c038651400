"""Index an evaluation dataset's passages, cached on disk by a checksum of passages and recipe."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from eval.datasets import EvalPassage
from index import store as store_io
from index.build import BuildOptions, build_store
from index.documents import checksum
from index.embedders import Embedder
from index.errors import StoreError
from index.manifest import FORMAT_VERSION, recipe_for
from index.faissstore import IndexStore
from index.types import Document

log = logging.getLogger(__name__)
DEFAULT_CACHE = Path(".qa-cache/eval")


@dataclass(frozen=True)
class BuiltIndex:
    """A store plus the figures of the build that produced it (kept when loaded from cache)."""

    store: IndexStore
    cached: bool
    path: Path

    def build_info(self) -> dict:
        """Build time and throughput in the shape eval.report expects."""
        m = self.store.manifest
        seconds = m.build_seconds
        passages = m.counts.get("documents", len(self.store.documents))
        return {"seconds": seconds, "passages": passages, "sentences": m.counts.get("sentences"),
                "chunks": m.counts.get("chunks"), "embedded_texts": m.embedded_texts,
                "throughput_per_s": passages / seconds if seconds else None,
                "cached": self.cached, "built_at": m.built_at, "path": str(self.path)}


def to_documents(passages: tuple[EvalPassage, ...] | list[EvalPassage]) -> list[Document]:
    """One Document per passage (doc_id = passage id), sorted by id.

    Sorting makes a dataset with distractors B and the distractor set with dataset B
    the same corpus, so both evaluations share one cached index.
    """
    return [Document(doc_id=p.id, title=p.title or p.id, text=p.text, checksum=checksum(p.text))
            for p in sorted(passages, key=lambda p: p.id)]


def cache_key(documents: list[Document], embedder: Embedder, opts: BuildOptions) -> str:
    """sha256 over every document and everything that changes the built vectors or indexes."""
    h = hashlib.sha256()
    recipe = [FORMAT_VERSION, recipe_for(embedder, opts.chunk_vectors), embedder.id, opts.chunk_size,
              opts.chunk_overlap, opts.dense_kind]
    h.update(json.dumps(recipe).encode())
    for d in documents:
        h.update(json.dumps([d.doc_id, d.title, d.checksum]).encode())
    return h.hexdigest()


def index_passages(passages, embedder: Embedder, opts: BuildOptions,
                   cache_dir: Path = DEFAULT_CACHE) -> BuiltIndex:
    """Load the cached index of these passages, or build and cache it."""
    documents = to_documents(passages)
    path = Path(cache_dir) / cache_key(documents, embedder, opts)
    try:
        store = store_io.load(path, embedder_id=embedder.id)
        log.info("using cached evaluation index %s", path)
        return BuiltIndex(store=store, cached=True, path=path)
    except StoreError as exc:
        log.info("building the evaluation index (%s)", exc)
    store = build_store(documents, embedder, opts)
    store_io.save(store, path, keep=1)
    return BuiltIndex(store=store, cached=False, path=path)
