"""Build or update the on-disk index from documents, reusing unchanged documents' vectors."""
from __future__ import annotations

import logging
from pathlib import Path

from index import store as store_io
from index.build import BuildOptions, build_store
from index.documents import load_documents
from index.embedders import Embedder, make_embedder
from index.errors import StoreError
from qa.settings import Settings

log = logging.getLogger(__name__)


def build_options(settings: Settings, show_progress: bool = True) -> BuildOptions:
    """Build options from settings."""
    return BuildOptions(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                        dense_kind=settings.dense_kind, show_progress=show_progress)


def previous_store(index_dir: Path, embedder: Embedder) -> store_io.IndexStore | None:
    """The current build if it is readable and compatible (its vectors can be reused)."""
    try:
        return store_io.load(index_dir, embedder_id=embedder.id)
    except StoreError as exc:
        log.info("not reusing the existing index: %s", exc)
        return None


def index_documents(settings: Settings, paths: list[Path] | None, *, rebuild: bool = False,
                    embedder: Embedder | None = None, show_progress: bool = True) -> str:
    """Index `paths` (bundled corpus when None) into settings.index_dir; returns a summary line."""
    docs = load_documents(paths)
    embedder = embedder or make_embedder(settings.embedder, threads=settings.embed_threads,
                                         batch_size=settings.embed_batch_size)
    previous = None if rebuild else previous_store(settings.index_dir, embedder)
    store = build_store(docs, embedder, build_options(settings, show_progress), previous=previous)
    path = store_io.save(store, settings.index_dir)
    m = store.manifest
    return (f"indexed {m.counts['documents']} documents, {m.counts['sentences']} sentences, "
            f"{m.counts['chunks']} chunks ({m.embedded_texts} texts embedded) in {m.build_seconds:.1f}s -> {path}")
