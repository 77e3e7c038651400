"""Errors raised while answering; the web layer maps them to HTTP statuses."""
from index.errors import DomainError


class QAError(DomainError):
    """Base class for answering errors the caller can act on."""


class InvalidQuestion(QAError):
    """The question is empty, too long, or otherwise unusable."""


class NoIndex(QAError):
    """No index is loaded; the message says how to build one."""


class UnknownDocument(QAError):
    """No indexed document has the requested id."""


class InvalidDocument(QAError):
    """An uploaded document is unusable (bad name, not UTF-8, empty)."""


class UnsupportedDocument(QAError):
    """An uploaded file is not of a type that can be indexed (index.documents.SUFFIXES)."""


class DocumentTooLarge(QAError):
    """An uploaded document exceeds the configured size limit."""


class ReadOnlyDocument(QAError):
    """The document belongs to the read-only corpus, not the managed uploads folder."""


class IndexBusy(QAError):
    """Another index build (CLI or API) holds the index directory's lock."""


class ReaderError(QAError):
    """The learned reader's model files are missing or do not match their recorded sha256."""
