"""Domain errors raised while building or loading an index; messages name the fix.

DomainError is the root of every error a user can fix, the answering ones (qa/errors.py)
included: the CLI prints any of them as one line, and only web/ maps them to HTTP statuses.
"""


class DomainError(Exception):
    """Base class for errors the user can fix; the message says how."""


class IndexingError(DomainError):
    """Base class for errors the user can fix (bad input files, stale or broken index)."""


class DocumentError(IndexingError):
    """A source document can't be read (missing, not UTF-8, unsupported type)."""


class StoreError(IndexingError):
    """An index directory is missing, corrupt, or was built incompatibly."""


class EmbedderError(IndexingError):
    """An embedder can't be set up or exported (missing optional package, model not found)."""


class StorageError(IndexingError):
    """The index or documents folder can't be written: read-only or not permitted, or out of space."""

    def __init__(self, message: str, *, no_space: bool = False):
        super().__init__(message)
        self.no_space = no_space


class StoreUnavailable(StoreError):
    """The index's database can't be reached right now (a restart, a failover); retrying later can succeed."""
