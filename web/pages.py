"""The chat page: static files, the `/` route and security headers. No business logic."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
STRINGS_FILE = STATIC_DIR / "i18n.json"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "en"  # for browsers that ask for neither language
LANG_COOKIE = "lang"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI and ReDoc (served from this server: web/app.py) boot with an inline script, so only
# their pages get this relaxed policy; everything else, the chat page included, keeps the strict one.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'")
DOCS_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")  # fastapi-offline's defaults
DOCS_ASSETS = "/static/docs"  # Swagger UI's and ReDoc's files, from the fastapi-offline wheel
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                  "X-Frame-Options": "DENY"}


@lru_cache(maxsize=1)
def load_strings() -> dict[str, dict[str, str]]:
    """The interface strings for every language, checked to have the same keys."""
    strings = json.loads(STRINGS_FILE.read_text(encoding="utf-8"))
    keys = {lang: set(strings[lang]) for lang in LANGUAGES}
    if len({frozenset(k) for k in keys.values()}) != 1:
        raise ValueError(f"{STRINGS_FILE} has different keys per language: {keys}")
    return strings


def choose_language(accept_language: str | None, cookie: str | None = None) -> str:
    """The toggle's cookie if set, else the browser's most preferred of our languages."""
    if cookie in LANGUAGES:
        return cookie
    ranked = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def security_headers(path: str) -> dict[str, str]:
    """CSP (relaxed on the API docs pages only) and the other security headers for a response to `path`."""
    return {"Content-Security-Policy": DOCS_CSP if path in DOCS_PAGES else CSP, **COMMON_HEADERS}


class SecurityHeaders:
    """ASGI middleware adding CSP and friends to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def make_app(**kwargs) -> FastAPI:
    """A FastAPI app whose API docs pages load their scripts from this server, not a CDN (works offline)."""
    return FastAPIOffline(static_url=DOCS_ASSETS, **kwargs)


def install(app: FastAPI) -> None:
    """Mount the static files, add `GET /` and the security-headers middleware."""
    strings = load_strings()
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        lang = choose_language(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))
        context = {"lang": lang, "t": strings[lang], "strings": strings}
        response = templates.TemplateResponse(request, "index.html", context)
        # the language comes from these two headers, so caches must key on them
        response.headers["Vary"] = "Accept-Language, Cookie"
        response.headers["Cache-Control"] = "no-cache"
        return response

    app.add_middleware(SecurityHeaders)
