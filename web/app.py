"""FastAPI app factory: the lifespan loads the index once; domain errors map to statuses."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from index.embedders import make_embedder
from index.errors import DocumentError, StoreError
from qa.engine import AnswerConfig, Engine
from qa.errors import InvalidQuestion, NoIndex, UnknownDocument
from qa.settings import Settings
from web import routes

log = logging.getLogger("qa.web")
STATUS = {InvalidQuestion: 422, UnknownDocument: 404, NoIndex: 503, StoreError: 503, DocumentError: 422}


def answer_config(settings: Settings) -> AnswerConfig:
    """Answering knobs from settings."""
    return AnswerConfig(top_k=settings.top_k, candidates=settings.candidates,
                        alpha_id=settings.fusion_alpha_id, alpha_en=settings.fusion_alpha_en,
                        abstain_threshold=settings.abstain_threshold)


def build_engine(settings: Settings) -> Engine:
    """Embedder plus the index on disk (if any); a broken index is logged, not fatal."""
    embedder = make_embedder(settings.embedder, threads=settings.embed_threads,
                             batch_size=settings.embed_batch_size)
    engine = Engine(embedder, answer_config(settings))
    try:
        engine.load(settings.index_dir)
    except StoreError as exc:
        log.error("%s", exc)  # serve 503s that say how to fix it, instead of crash-looping
    return engine


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; pass `engine` to share one already loaded (tests, eval)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if getattr(app.state, "engine", None) is None:
            app.state.engine = build_engine(settings)
        yield

    app = FastAPI(title="Indonesian document QA", version="0.1.0", lifespan=lifespan,
                  description="Grounded answers with sentence-level citations over Indonesian documents.")
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(routes.router)
    _install_pages(app)
    for exc_type, status in STATUS.items():
        app.add_exception_handler(exc_type, _handler(status))
    app.add_exception_handler(RequestValidationError, _validation_handler)
    return app


def _install_pages(app: FastAPI) -> None:
    try:
        from web import pages
    except ImportError:  # the chat page is optional for API-only deployments
        return
    pages.install(app)


def _handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
