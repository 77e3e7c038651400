"""Errors raised while answering; the web layer maps them to HTTP statuses."""


class QAError(Exception):
    """Base class for answering errors the caller can act on."""


class InvalidQuestion(QAError):
    """The question is empty, too long, or otherwise unusable."""


class NoIndex(QAError):
    """No index is loaded; the message says how to build one."""


class UnknownDocument(QAError):
    """No indexed document has the requested id."""
