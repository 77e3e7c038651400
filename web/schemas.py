"""HTTP request and response models (pydantic lives at the edges only)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, description="Indonesian or English")
    top_k: int = Field(3, ge=1, le=10, description="how many citations to return")

    @field_validator("question")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question must not be empty or whitespace")
        if "\x00" in v:
            raise ValueError("question must not contain NUL characters")
        return v


class CitationOut(BaseModel):
    n: int
    doc_id: str
    sentence_index: int
    text: str
    start: int
    end: int
    score: float


class Timings(BaseModel):
    retrieve: float
    answer: float
    total: float


class ChatResponse(BaseModel):
    answer: str
    language: Literal["id", "en"]
    abstained: bool
    citations: list[CitationOut]
    timings_ms: Timings


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
