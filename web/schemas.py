"""HTTP request and response models (pydantic lives at the edges only)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qa.config import AnswerConfig
from qa.types import Answer

MAX_QUESTION_CHARS = AnswerConfig.max_question_chars


def lone_surrogate(value) -> bool:
    """Whether a parsed JSON value holds a lone surrogate (JSON "\\ud800") in any string or key."""
    stack = [value]
    while stack:  # not recursive: the nesting depth is the client's choice
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_question_text(v: str) -> str:
    """Reject text no question may contain: only whitespace, NUL, lone surrogates (they can't become UTF-8)."""
    if not v.strip():
        raise ValueError("question must not be empty or whitespace")
    if "\x00" in v:
        raise ValueError("question must not contain NUL characters")
    if lone_surrogate(v):
        raise ValueError("question must not contain unpaired surrogate escapes; send valid Unicode text")
    return v


class ChatRequest(BaseModel):
    # strict: `"top_k": true` or `"stream": "yes"` is a client bug to report (422), not to coerce
    model_config = ConfigDict(extra="ignore", strict=True)

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="Indonesian or English")
    top_k: int | None = Field(None, ge=1, le=10, description="how many citations to return (default: QA_TOP_K, 3)")
    mode: Literal["extractive", "generative"] | None = Field(
        None, description="extractive quotes sentences; generative lets a language model answer in the "
                          "question's language, verified against the sources (default: QA_ANSWER_MODE)")
    stream: bool = Field(False, description="reply with Server-Sent Events: `delta` events, then one `final`")

    @field_validator("question")
    @classmethod
    def not_blank(cls, v: str) -> str:
        return check_question_text(v)


class CitationOut(BaseModel):
    n: int
    doc_id: str
    sentence_index: int
    text: str
    start: int
    end: int
    score: float
    page: int | None = Field(None, description="PDF page the sentence starts on (1-based); null for other documents")


class HighlightOut(BaseModel):
    """The short answer (date, amount, number or name) inside citation `n`; offsets into the document."""

    n: int
    doc_id: str
    kind: Literal["date", "money", "number", "person", "place"]
    text: str
    start: int
    end: int


class Timings(BaseModel):
    retrieve: float
    answer: float
    total: float
    generate: float | None = None  # generative mode: time spent on the language model


class ChatResponse(BaseModel):
    answer: str
    language: Literal["id", "en"]
    abstained: bool = Field(description="the documents don't hold the answer: the evidence was too weak, or "
                                        "(generative mode) the model found no answer in the cited sentences")
    citations: list[CitationOut]
    timings_ms: Timings
    mode: Literal["extractive", "generative"] = "extractive"
    fallback: bool = Field(False, description="generative mode: the model's answer failed or was rejected, "
                                              "so this is the extractive answer")
    fallback_reason: str | None = Field(None, description="why, e.g. timeout, unsupported_number")
    highlight: HighlightOut | None = Field(None, description="for when/how many/who/where questions: the "
                                                             "answer span inside citation 1, if one is found")

    @classmethod
    def from_answer(cls, ans: Answer) -> ChatResponse:
        """The public shape of the pipeline's Answer."""
        return cls(answer=ans.answer, language=ans.language, abstained=ans.abstained,
                   citations=[asdict(c) for c in ans.citations], timings_ms=ans.timings_ms,
                   mode=ans.mode, fallback=ans.fallback, fallback_reason=ans.fallback_reason,
                   highlight=asdict(ans.highlight) if ans.highlight else None)


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    n_sentences: int
    n_chars: int


class SentenceSpan(BaseModel):
    index: int
    start: int
    end: int


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    text: str
    sentences: list[SentenceSpan]


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    embedder: str


class ErrorOut(BaseModel):
    detail: str


class IndexBuild(BaseModel):
    """The index build that went live."""

    build: str
    documents: int
    chunks: int
    embedded_texts: int = Field(description="texts embedded for this build (unchanged documents are reused)")
    seconds: float


class DocumentChanged(BaseModel):
    doc_id: str
    replaced: bool = Field(description="upload: a document of that name existed; delete: always true")
    index: IndexBuild


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """A request that failed validation: one entry per bad field."""

    detail: list[FieldError]
