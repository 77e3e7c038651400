"""Frozen records that travel through answering."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused and per-retriever scores."""

    chunk_id: int
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class Citation:
    """A source sentence quoted as evidence; text == document.text[start:end]."""

    n: int
    doc_id: str
    sentence_index: int
    text: str
    start: int
    end: int
    score: float
    page: int | None = None  # 1-based page of a PDF the sentence starts on; None for documents without pages


@dataclass(frozen=True)
class Highlight:
    """The short answer inside citation `n` (a date, number or name); text == document.text[start:end]."""

    n: int
    doc_id: str
    kind: str  # "date", "money", "number", "person" or "place" (see qa.answer_type)
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What the pipeline returns for one question."""

    answer: str
    language: str
    abstained: bool
    citations: tuple[Citation, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    passages: tuple[Passage, ...] = ()
    support: float = 0.0
    latent_overlap: float | None = None  # the latent overlap support counted (or its stand-in); None: not counted
    mode: str = "extractive"  # "generative" when a language model was asked (see qa/generate.py)
    fallback: bool = False  # True: generation failed or was rejected; this is the extractive answer
    fallback_reason: str | None = None
    highlight: Highlight | None = None  # the short answer inside citation 1, when the question asks for one
    draft: str | None = None  # the model's reply before verification (for logs and evaluation, not the API)
    reader: float | None = None  # the learned reader's best logit over the candidates (None: no reader)
