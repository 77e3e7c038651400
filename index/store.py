"""Saving and loading an IndexStore (index/faissstore.py) atomically, one build per folder.

Layout of an index directory:
    CURRENT            name of the live build (replaced atomically with os.replace)
    builds/<name>/     manifest.json, records.json, chunk_vectors.npy,
                       sentence_vectors.npy, dense.faiss, lexical/ (chunks),
                       lexical_sentences/, chunk_sparse.npz and sentence_sparse.npz
                       (when the embedder has a sparse head)
A build is written under builds/.tmp-<name> and renamed when complete, so a crash
mid-build leaves the previous build live and loadable.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import faiss
import numpy as np

from index import latent
from index.errors import StoreError
from index.faissstore import IndexStore
from index.lexical import LexicalIndex
from index.manifest import CURRENT_RECIPES, EMBED_RECIPE, FORMAT_VERSION, Manifest, disagreement, sha256_file
from index.types import Chunk, Document, Sentence

log = logging.getLogger(__name__)

REBUILD = "run `qa index --rebuild` to build a fresh index"
DATA_FILES = ("records.json", "chunk_vectors.npy", "sentence_vectors.npy", "dense.faiss",
              "vocab.json", "vocab_vectors.npy")
LEXICAL_DIRS = ("lexical", "lexical_sentences")


def records(store: IndexStore) -> dict:
    """Documents, sentences and chunks as plain lists (sentence and chunk texts are cut from documents)."""
    return {
        "documents": [{"doc_id": d.doc_id, "title": d.title, "text": d.text, "checksum": d.checksum,
                       **({"pages": list(d.pages)} if d.pages else {})} for d in store.documents],
        "sentences": [[s.doc_id, s.index, s.start, s.end, s.paragraph] for s in store.sentences],
        "chunks": [[c.doc_id, list(c.sentences), c.start, c.end] for c in store.chunks],
    }


def _write_files(store: IndexStore, tmp: Path) -> dict[str, str]:
    (tmp / "records.json").write_text(json.dumps(records(store), ensure_ascii=False), encoding="utf-8")
    np.save(tmp / "chunk_vectors.npy", store.chunk_vectors)
    np.save(tmp / "sentence_vectors.npy", store.sentence_vectors)
    (tmp / "vocab.json").write_text(json.dumps(store.vocab, ensure_ascii=False), encoding="utf-8")
    np.save(tmp / "vocab_vectors.npy", store.vocab_vectors)
    faiss.write_index(store.dense, str(tmp / "dense.faiss"))
    store.lexical.save(tmp / "lexical")
    store.sentence_lexical.save(tmp / "lexical_sentences")
    names = list(DATA_FILES) + [f"{d}/{p.name}" for d in LEXICAL_DIRS for p in sorted((tmp / d).iterdir())]
    for matrix, name in ((store.chunk_sparse, latent.CHUNK_FILE), (store.sentence_sparse, latent.SENTENCE_FILE)):
        if matrix is not None:
            latent.save(matrix, tmp / name)
            names.append(name)
    return {name: sha256_file(tmp / name) for name in names}


def _fsync_tree(path: Path) -> None:
    for p in [*path.rglob("*"), path]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save(store: IndexStore, index_dir: Path, keep: int = 2) -> Path:
    """Write `store` as a new build and make it current atomically; returns the build path."""
    builds = Path(index_dir) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    try:
        files = _write_files(store, tmp)
        store.manifest = store.manifest.model_copy(update={"files": files})
        (tmp / "manifest.json").write_text(store.manifest.model_dump_json(indent=2), encoding="utf-8")
        _fsync_tree(tmp)
        os.rename(tmp, builds / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = Path(index_dir) / "CURRENT.tmp"
    pointer.write_text(name + "\n", encoding="utf-8")
    os.replace(pointer, Path(index_dir) / "CURRENT")
    store.path = builds / name
    _prune(builds, current=name, keep=keep)
    return store.path


def _prune(builds: Path, current: str, keep: int) -> None:
    """Delete old builds (keeping `keep`, current included) and stale temporary ones."""
    done = sorted((p for p in builds.iterdir() if not p.name.startswith(".tmp-")), key=lambda p: p.name)
    old = [p for p in done if p.name != current][: max(0, len(done) - keep)]
    stale = [p for p in builds.iterdir() if p.name.startswith(".tmp-") and time.time() - p.stat().st_mtime > 3600]
    for p in old + stale:
        shutil.rmtree(p, ignore_errors=True)


def current_build(index_dir: Path) -> Path:
    """Path of the live build named by CURRENT; StoreError when there is none."""
    pointer = Path(index_dir) / "CURRENT"
    if not pointer.is_file():
        raise StoreError(f"no index at {index_dir}; run `qa index` to build one")
    name = pointer.read_bytes().decode("utf-8", "replace").strip()
    if not name or "/" in name or name.startswith("."):  # empty or garbled: don't read builds/ itself
        raise StoreError(f"{pointer} is empty or corrupt; {REBUILD}")
    build = Path(index_dir) / "builds" / name
    if not build.is_dir():
        raise StoreError(f"{pointer} names a missing build {build.name}; {REBUILD}")
    return build


def read_manifest(build: Path) -> Manifest:
    """Parse and check a build's manifest (format version)."""
    path = build / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is unreadable or corrupt ({type(exc).__name__}); {REBUILD}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise StoreError(f"{path} has index format {manifest.format_version}, this version reads "
                         f"{FORMAT_VERSION}; {REBUILD}")
    return manifest


def load(index_dir: Path, *, embedder_id: str | None = None, vector_space: str | None = None,
         verify: bool = True) -> IndexStore:
    """Load the live build, refusing one made by an embedder of another vector space or format version."""
    build = current_build(index_dir)
    manifest = read_manifest(build)
    same_space = vector_space is not None and manifest.vector_space == vector_space
    if embedder_id is not None and manifest.embedder_id != embedder_id and not same_space:
        raise StoreError(f"the index at {index_dir} was built with embedder {manifest.embedder_id!r}, "
                         f"but {embedder_id!r} is configured; {REBUILD} (or set QA_EMBEDDER to match)")
    if manifest.embed_recipe not in CURRENT_RECIPES:  # still answers, a little worse: say how to refresh
        log.warning("the index at %s embeds texts by an older recipe (%s, now %s); run `qa index` to refresh it",
                    index_dir, manifest.embed_recipe, EMBED_RECIPE)
    if verify:
        for name, digest in manifest.files.items():
            path = build / name
            if not path.is_file() or sha256_file(path) != digest:
                raise StoreError(f"index file {path} is missing, truncated or corrupt; {REBUILD}")
    try:
        store = _read_build(build, manifest)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise StoreError(f"index at {build} can't be read ({exc}); {REBUILD}") from None
    shapes = {"chunk vectors": store.chunk_vectors.shape, "sentence vectors": store.sentence_vectors.shape,
              "dense index": (store.dense.ntotal, store.dense.d)}
    problem = disagreement(manifest, store.documents, store.sentences, store.chunks, shapes)
    if problem:
        raise StoreError(f"{build / 'manifest.json'} disagrees with the index files: {problem}; {REBUILD}")
    return store


def from_records(rec: dict) -> tuple[list[Document], list[Sentence], list[Chunk]]:
    """Documents, sentences and chunks from records in the shape `records` writes (texts cut from documents)."""
    docs = [Document(**{**d, "pages": tuple(d.get("pages") or ())}) for d in rec["documents"]]
    texts = {d.doc_id: d.text for d in docs}
    sentences = [Sentence(doc_id=d, index=i, start=a, end=b, text=texts[d][a:b], paragraph=p)
                 for d, i, a, b, p in rec["sentences"]]
    chunks = [Chunk(doc_id=d, sentences=tuple(s), start=a, end=b, text=texts[d][a:b])
              for d, s, a, b in rec["chunks"]]
    return docs, sentences, chunks


def _read_build(build: Path, manifest: Manifest) -> IndexStore:
    docs, sentences, chunks = from_records(json.loads((build / "records.json").read_text(encoding="utf-8")))
    return IndexStore(
        manifest=manifest, documents=docs, sentences=sentences, chunks=chunks,
        chunk_vectors=np.load(build / "chunk_vectors.npy"),
        sentence_vectors=np.load(build / "sentence_vectors.npy"),
        dense=faiss.read_index(str(build / "dense.faiss")),
        lexical=LexicalIndex.load(build / "lexical", len(chunks)),
        sentence_lexical=LexicalIndex.load(build / "lexical_sentences", len(sentences)),
        vocab=json.loads((build / "vocab.json").read_text(encoding="utf-8")),
        vocab_vectors=np.load(build / "vocab_vectors.npy"),
        path=build,
        chunk_sparse=latent.load(build / latent.CHUNK_FILE) if latent.CHUNK_FILE in manifest.files else None,
        sentence_sparse=(latent.load(build / latent.SENTENCE_FILE)
                         if latent.SENTENCE_FILE in manifest.files else None),
    )
