"""Frozen records that travel through indexing; every offset points into Document.text."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One source file, kept verbatim so offsets stay valid."""

    doc_id: str
    title: str
    text: str
    checksum: str
    pages: tuple[int, ...] = ()  # offset where each page starts (PDF); empty when the file has no pages
    body_start: int = 0  # text before this (a title line) is not split into sentences to cite

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None for a document without pages."""
        return bisect_right(self.pages, offset) if self.pages else None


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
