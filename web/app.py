"""FastAPI app factory: the lifespan loads the index once; domain errors map to statuses."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from index.errors import DocumentError, StorageError, StoreError, StoreUnavailable
from qa.engine import Engine
from qa.errors import (DocumentTooLarge, IndexBusy, InvalidDocument, InvalidQuestion, NoIndex, ReadOnlyDocument,
                       UnknownDocument, UnsupportedDocument)
from qa.service import Service
from qa.settings import Settings
from web import admin, hosts, openai_compat, pages, routes, security
from web.schemas import ErrorOut

log = logging.getLogger("qa.web")
STATUS = {InvalidQuestion: 422, UnknownDocument: 404, NoIndex: 503, StoreError: 503, DocumentError: 422,
          InvalidDocument: 422, UnsupportedDocument: 415, DocumentTooLarge: 413, ReadOnlyDocument: 409,
          IndexBusy: 409, StorageError: 503}
RETRY_BUSY_S = "5"  # a rebuild that reuses vectors takes seconds; a database restart about as long


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app from the entry point's settings; pass `engine` to share one already loaded (tests, eval)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.service is None:
            serve(app, Service.from_settings(settings))
            await run_in_threadpool(app.state.service.warm_up)  # the first user gets a warm answer
        watcher = asyncio.create_task(watch_index(app.state.engine, settings)) if settings.reload_interval_s else None
        yield
        if watcher:
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher

    app = pages.make_app(title="Indonesian document QA", version="0.1.0", lifespan=lifespan,
                         description="Grounded answers with sentence-level citations over Indonesian documents.")
    app.state.settings = settings
    app.state.service = app.state.engine = None
    if engine is not None:
        serve(app, Service.from_settings(settings, engine=engine))
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    app.include_router(admin.router)
    security.install(app, settings, ErrorOut)  # before the pages, so 413/429 get the security headers too
    app.add_middleware(hosts.TrustedHosts, hosts=hosts.allowed_hosts(settings))
    pages.install(app)
    for exc_type, status in STATUS.items():
        app.add_exception_handler(exc_type, _handler(status))
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Exception, _server_error)
    return app


def serve(app: FastAPI, service: Service) -> None:
    """Answer with `service` (the admin API rebuilds its engine's index)."""
    app.state.service, app.state.engine = service, service.engine


async def watch_index(engine: Engine, settings: Settings) -> None:
    """Swap in builds that others make current (`qa index` while serving); never dies, logs once per failure."""
    while True:
        await asyncio.sleep(settings.reload_interval_s)
        try:
            if await run_in_threadpool(engine.reload_if_changed, settings.index_dir):
                log.info("now serving index build %s", engine.build_name)
        except StoreError as exc:
            log.error("%s", exc)  # the engine won't retry this build, so this is logged once
        except Exception:  # noqa: BLE001 - the poller must outlive any one bad reload
            log.exception("reloading the index failed")


def _handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": RETRY_BUSY_S} if isinstance(exc, (IndexBusy, StoreUnavailable)) else None
        code = 507 if isinstance(exc, StorageError) and exc.no_space else status
        if code >= 500:
            log.warning("%s %s: %s", code, request.url.path, exc)  # the paths go to the log, not the client
        return JSONResponse({"detail": security.public_detail(str(exc))}, status_code=code, headers=headers)

    return handle


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: JSON like every other error, with the security headers (this runs outside their middleware)."""
    detail = "internal server error; the server log has the details"
    response = security.error_response(request.url.path, 500, detail)
    response.headers.update(pages.security_headers(request.url.path))
    return response


async def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
