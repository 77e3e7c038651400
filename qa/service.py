"""The answering service: built once from Settings, it answers (and streams) questions in either mode.

Every way in goes through it: POST /api/chat and /v1/chat/completions (web/), `qa ask`, `qa eval`
and the benchmarks. It holds the one decision between an extractive answer and a generated one.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from index.errors import StorageError, StoreError
from qa import generate, library, pipeline
from qa.config import config_from_settings
from qa.engine import Engine
from qa.generate import LLMConfig, StreamEvent
from qa.settings import Settings
from qa.types import Answer

log = logging.getLogger(__name__)


def load_engine(settings: Settings, *, strict: bool = False) -> Engine:
    """The configured embedder plus the index on disk (if any); a broken index is logged, not fatal, unless `strict`."""
    engine = Engine(settings.make_embedder(), config_from_settings(settings), reader=settings.make_reader(),
                    database_url=settings.database_read_dsn(), pool_size=settings.database_pool_size,
                    pool_timeout_s=settings.database_timeout_s)
    try:
        library.recover(settings)  # a change cut off by a crash is completed or undone before serving
    except StorageError as exc:
        log.error("%s", exc)  # e.g. a read-only index folder: serving what is there still beats not serving
    try:
        engine.load(settings.index_dir)
    except StoreError as exc:
        if strict:
            raise
        log.error("%s", exc)  # a server answers 503s that say how to fix it, instead of crash-looping
    return engine


@dataclass
class Service:
    """Answers questions over one Engine; `mode` is the default for callers that don't choose one.

    """

    engine: Engine
    llm: LLMConfig
    mode: str = "extractive"

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None, strict: bool = False) -> Service:
        """The service the settings describe; `engine` shares one already loaded (tests, eval)."""
        engine = engine if engine is not None else load_engine(settings, strict=strict)
        return cls(engine=engine, llm=LLMConfig.from_settings(settings), mode=settings.answer_mode)

    def generative(self, mode: str | None) -> bool:
        """Whether a request in `mode` (None: the default) is answered by the language model."""
        return (mode or self.mode) == "generative"

    def extract(self, question: str, top_k: int | None = None) -> Answer:
        """The extractive answer: cited sentences, or an abstention."""
        return pipeline.answer(question, self.engine, top_k=top_k)

    def ask(self, question: str, top_k: int | None = None, mode: str | None = None) -> Answer:
        """The answer in `mode`; a generated one is verified against its citations or falls back."""
        extractive = self.extract(question, top_k)
        if not self.generative(mode):
            return extractive
        return generate.generate_answer(question, extractive, self.llm)

    def stream(self, question: str, top_k: int | None = None, mode: str | None = None) -> Iterator[StreamEvent]:
        """Retrieve now (so errors raise before any byte is sent), then the answer as text deltas and a final event."""
        extractive = self.extract(question, top_k)
        if not self.generative(mode):
            return generate.extractive_events(extractive)
        return generate.stream_answer(question, extractive, self.llm)

    def warm_up(self) -> None:
        """Answer one question so the first user doesn't pay for lazy loads (language model, caches)."""
        pipeline.warm_up(self.engine)
