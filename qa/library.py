"""The server's documents: the read-only corpus plus one managed folder the admin API may change.

Every change runs under the index directory's build lock: journal the intent (qa/journal.py),
write (or remove) the file, build a new index beside the live one, swap it in. If the build fails,
the file change is undone; if the process dies, the next one to take the lock completes or undoes
it. So the folder on disk and the index being served never disagree.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from index.documents import SUFFIXES, TEXT_SUFFIXES
from index.errors import DocumentError
from index.formats import extract
from qa.engine import Engine
from qa.errors import (DocumentTooLarge, IndexBusy, InvalidDocument, ReadOnlyDocument, UnknownDocument,
                       UnsupportedDocument)
from qa.indexing import await_replica, build_and_save, build_lock, resolve_interrupted, uploads_dir, writing
from qa.journal import Journal, write_durably
from qa.settings import Settings

log = logging.getLogger(__name__)

UNSAFE = re.compile(r"[^\w.\-]+")  # anything but letters, digits, _, . and - becomes "_"
MAX_NAME_BYTES = 120


@dataclass(frozen=True)
class Reindexed:
    """What a finished rebuild put live."""

    build: str
    documents: int
    chunks: int
    embedded_texts: int
    seconds: float


@dataclass(frozen=True)
class Change:
    """One document added, replaced or removed, and the index that now serves it."""

    doc_id: str
    replaced: bool
    index: Reindexed


def safe_name(filename: str) -> str:
    """A flat file name for the uploads folder: no directories, no leading dots, a suffix that can be indexed."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", filename or ""))[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or "." + ext.lower() not in SUFFIXES:
        raise UnsupportedDocument(f"{filename!r} is not a {', '.join(SUFFIXES)} file; only plain text, Markdown, "
                                  "PDF, Word and HTML documents can be indexed")
    stem = UNSAFE.sub("_", stem).strip("._- ")
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if not stem:
        raise InvalidDocument(f"{filename!r} has no usable name; name the file with letters or digits, e.g. laporan.txt")
    return f"{stem}.{ext.lower()}"


def check_text(name: str, data: bytes, limit: int) -> None:
    """Reject uploads that are too large, not UTF-8, binary or empty (a PDF, Word or HTML file: without text), each with the fix."""
    if len(data) > limit:
        raise DocumentTooLarge(f"{name} is larger than the upload limit of {limit} bytes (QA_MAX_UPLOAD_BYTES); "
                               "split it into smaller documents")
    if "." + name.rpartition(".")[2] not in TEXT_SUFFIXES:
        try:
            extract(name, data)  # the same reading the build does, so a file that can't be indexed is refused here
        except DocumentError as exc:
            raise InvalidDocument(f"{name} {exc}") from None
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"{name} is not UTF-8 (byte {exc.start}); convert it, "
                              "e.g. `iconv -f latin1 -t utf-8`") from None
    if "\x00" in text:
        raise InvalidDocument(f"{name} contains NUL bytes, so it is not a text file; upload .txt or .md text")
    if not text.lstrip("\ufeff").strip():
        raise InvalidDocument(f"{name} is empty; upload a document with some text")


class Library:
    """Adds, removes and reindexes the server's documents (one change at a time)."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.folder = uploads_dir(settings)
        self.journal = Journal(settings.index_dir)

    def reindex(self) -> Reindexed:
        """Rebuild the index from the documents on disk and swap it in; IndexBusy if a build is running."""
        with build_lock(self.settings.index_dir, wait=False):
            resolve_interrupted(self.settings)
            return self._rebuild()

    def add_document(self, filename: str, data: bytes) -> Change:
        """Write an upload into the managed folder (replacing one of the same name) and reindex."""
        name = safe_name(filename)
        check_text(name, data, self.settings.max_upload_bytes)
        with build_lock(self.settings.index_dir, wait=False):
            resolve_interrupted(self.settings)
            target = self.folder / name
            if not target.exists() and self._served(name):
                raise ReadOnlyDocument(f"a document {name!r} is already in the read-only corpus; "
                                       "upload it under another file name")
            previous = target.read_bytes() if target.exists() else None
            with writing(f"the uploads folder {self.folder}"):
                self.folder.mkdir(parents=True, exist_ok=True)
                self.journal.begin(target, previous)
            return Change(name, previous is not None, self._apply(lambda: write_durably(target, data)))

    def remove_document(self, doc_id: str) -> Change:
        """Delete an uploaded document and reindex; corpus documents are read-only."""
        with build_lock(self.settings.index_dir, wait=False):
            resolve_interrupted(self.settings)
            target = self._managed_path(doc_id)
            if target is None:
                if self._served(doc_id):
                    raise ReadOnlyDocument(f"{doc_id!r} is part of the read-only corpus, not an upload; remove it "
                                           "from the corpus folder and run `qa index`")
                raise UnknownDocument(f"no uploaded document has id {doc_id!r}; see GET /api/documents")
            with writing(f"the index at {self.settings.index_dir}"):
                self.journal.begin(target, target.read_bytes())
            return Change(doc_id, True, self._apply(target.unlink))

    def _apply(self, change) -> Reindexed:
        """Make the journaled file change and publish it; undo it if either fails."""
        try:
            with writing(f"the uploads folder {self.folder}"):
                change()
            done = self._rebuild()
        except BaseException:
            self._undo()
            raise
        self.journal.finish()
        return done

    def _undo(self) -> None:
        """Undo the change unless its build went live after all (CURRENT flipped, then loading failed)."""
        try:
            self.journal.resolve()
        except OSError as exc:  # e.g. the disk is read-only: the next start-up or change retries it
            log.error("could not undo the document change yet (%s); it will be undone when the lock is next taken",
                      exc)

    def _rebuild(self) -> Reindexed:
        store = build_and_save(self.settings, None, embedder=self.engine.embedder, show_progress=False)
        await_replica(self.settings)  # a server reading a replica can serve the build only once it has arrived
        self.engine.load(self.settings.index_dir)  # still under the lock: nobody else can flip CURRENT
        m = store.manifest
        return Reindexed(build=store.path.name, documents=m.counts["documents"], chunks=m.counts["chunks"],
                         embedded_texts=m.embedded_texts, seconds=m.build_seconds)

    def _served(self, doc_id: str) -> bool:
        store = self.engine.store
        return store is not None and store.document(doc_id) is not None

    def _managed_path(self, doc_id: str) -> Path | None:
        """The upload file for `doc_id`, only if it lies inside the managed folder."""
        root = self.folder.resolve()
        path = (root / doc_id).resolve()
        if not path.is_relative_to(root) or path == root or not path.is_file() or path.suffix.lower() not in SUFFIXES:
            return None
        return path


def recover(settings: Settings) -> str | None:
    """At start-up: complete or undo a change a dead server left (unless a build holds the lock; it will)."""
    try:
        with build_lock(settings.index_dir, wait=False):
            return resolve_interrupted(settings)
    except IndexBusy:
        return None
