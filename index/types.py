"""Frozen records that travel through indexing; every offset points into Document.text."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One source file, kept verbatim so offsets stay valid."""

    doc_id: str
    title: str
    text: str
    checksum: str


@dataclass(frozen=True)
class Span:
    """A sentence found by the splitter: text == source[start:end]."""

    start: int
    end: int
    text: str
    paragraph: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document, with its position in that document."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    paragraph: int


@dataclass(frozen=True)
class Chunk:
    """A window of consecutive sentences inside one paragraph."""

    doc_id: str
    sentences: tuple[int, ...]  # sentence indexes within the document
    start: int
    end: int
    text: str
