"""Crash-safe document changes: the intent is written before a file changes, and resolved at start-up.

An upload or delete changes a file in the uploads folder, then builds and publishes a new index
(`CURRENT` flips). A `kill -9` between the two used to leave them disagreeing: an upload on disk
but not served (the next unrelated `qa index` published it), or a deleted file still served. Now
`begin` first saves the file's previous content and the live build's name in
`<index_dir>/journal/`, fsynced; `finish` clears it once the new index is live. If a process dies
in between, the next one to take the build lock (server start-up, `qa index`, the admin API)
calls `resolve`: if `CURRENT` still names the build from before, the change never went live and
the file is put back as it was; if it names another, the change was published and is kept.
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from index import store as store_io
from index.errors import StoreError

log = logging.getLogger(__name__)
FOLDER = "journal"
INTENT = "intent.json"
PREVIOUS = "previous"


@dataclass(frozen=True)
class Intent:
    """A document change in progress."""

    path: str  # the document file being changed
    build: str | None  # the build CURRENT named before the change
    had_previous: bool  # the file existed (its bytes are in the journal's `previous`)


def live_build(index_dir: Path) -> str | None:
    """Name of the build CURRENT points to, or None."""
    try:
        return store_io.current_build(index_dir).name
    except StoreError:
        return None


def write_durably(target: Path, data: bytes) -> None:
    """Write via a temporary `.part` name, fsync, rename; the `.part` file is removed if anything fails."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """fsync a directory, so the names just created or removed in it survive a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The one pending document change of an index directory (changes run under its build lock)."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self.folder = self.index_dir / FOLDER

    def begin(self, path: Path, previous: bytes | None) -> None:
        """Record that `path` is about to change (`previous`: its content now, None if it doesn't exist)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if previous is not None:
            write_durably(self.folder / PREVIOUS, previous)
        intent = Intent(path=str(Path(path).resolve()), build=live_build(self.index_dir),
                        had_previous=previous is not None)
        write_durably(self.folder / INTENT, json.dumps(intent.__dict__).encode("utf-8"))

    def finish(self) -> None:
        """The change went live, or was undone: forget it."""
        (self.folder / INTENT).unlink(missing_ok=True)  # first: without an intent, `previous` means nothing
        (self.folder / PREVIOUS).unlink(missing_ok=True)
        if self.folder.is_dir():
            sync_folder(self.folder)

    def pending(self) -> Intent | None:
        """The change a dead process left unresolved, if any."""
        try:
            return Intent(**json.loads((self.folder / INTENT).read_bytes()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:  # written atomically, so only a hand edit gets here
            raise StoreError(f"{self.folder / INTENT} is corrupt ({exc}); restore or remove the document "
                             "it names by hand, delete the file, and retry") from None

    def undo(self, intent: Intent) -> None:
        """Put the document file back as it was before `intent`."""
        path = Path(intent.path)
        if intent.had_previous:
            write_durably(path, (self.folder / PREVIOUS).read_bytes())
        else:
            path.unlink(missing_ok=True)
            sync_folder(path.parent)

    def resolve(self) -> str | None:
        """Complete or roll back a change a dead process left; says which (None: nothing pending)."""
        intent = self.pending()
        if intent is None:
            return None
        if live_build(self.index_dir) != intent.build:
            outcome = f"completed: the change to {intent.path} was already live"
        else:
            self.undo(intent)
            outcome = f"rolled back: {intent.path} is as it was before the interrupted change"
        self.finish()
        log.warning("an interrupted document change was %s", outcome)
        return outcome


def remove_partial_files(folder: Path) -> None:
    """Delete `.part` files a dead process left in the uploads folder (never indexed, never needed)."""
    if folder.is_dir():
        for part in folder.glob(".*.part"):
            part.unlink(missing_ok=True)
