"""The chat page's server side: rendering, strings, static files and security headers."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from web import pages

STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = pages.make_app()

    @app.get("/api/ping")
    def ping() -> dict:
        return {"ok": True}

    @app.get("/own-csp")
    def own_csp() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'"})

    pages.install(app)
    return TestClient(app)


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def test_page_renders_with_labelled_input_and_live_region(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    tags = parse(response.text)
    ids = {attrs.get("id"): (tag, attrs) for tag, attrs in tags if attrs.get("id")}
    assert ids["question"][0] == "textarea"
    assert any(tag == "label" and attrs.get("for") == "question" for tag, attrs in tags)
    assert ids["transcript"][1]["aria-live"] == "polite"
    assert ("script", {"type": "module", "src": "static/app.js"}) in tags


def test_page_has_no_inline_script_style_or_handlers(client):
    tags = parse(client.get("/").text)
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], f"inline handler on <{tag}>"
        assert "style" not in attrs, f"inline style on <{tag}>"  # style-src 'self' would block it
        if tag == "script":
            assert attrs.get("src"), "inline <script>"
        assert tag != "style"
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), "no CDN, no remote files"


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css", "/api/ping", "/missing"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert headers["content-security-policy"] == STRICT_CSP
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_work_offline_with_a_policy_relaxed_only_for_them(client, path):
    """Swagger UI and ReDoc come from this server, not a CDN: the page names no other host, its assets load."""
    response = client.get(path)
    assert response.status_code == 200
    assert "//" not in re.sub(r"<script>.*?</script>", "", response.text, flags=re.S)  # no http(s)://host
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    csp = response.headers["content-security-policy"]
    assert "http" not in csp and "'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp
    assert client.get("/openapi.json").headers["content-security-policy"] == STRICT_CSP


def test_a_route_may_set_its_own_policy(client):
    assert client.get("/own-csp").headers["content-security-policy"] == "default-src 'none'"


@pytest.mark.parametrize("accept, cookie, expected", [
    ("id-ID,id;q=0.9,en-US;q=0.8", None, "id"),
    ("en-US,en;q=0.9", None, "en"),
    ("en;q=0.5, id;q=0.9", None, "id"),
    ("fr-FR, de;q=0.8", None, "en"),
    ("id;q=0, en;q=0.1", None, "en"),
    ("", None, "en"),
    (None, None, "en"),
    ("garbage;q=x, id;q=nope", None, "en"),
    ("id-ID", "en", "en"),
    ("en-US", "id", "id"),
    ("id-ID", "xx", "id"),
])
def test_choose_language(accept, cookie, expected):
    assert pages.choose_language(accept, cookie) == expected


def test_page_follows_accept_language_then_the_toggle_cookie(client):
    indonesian = client.get("/", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert '<html lang="id">' in indonesian.text and "Pertanyaan Anda" in indonesian.text
    assert "Accept-Language" in indonesian.headers["vary"]
    english = client.get("/", headers={"Accept-Language": "id-ID", "Cookie": "lang=en"})
    assert '<html lang="en">' in english.text and "Your question" in english.text


def test_both_languages_reach_the_page_intact(client):
    body = next(attrs for tag, attrs in parse(client.get("/").text) if tag == "body")
    assert json.loads(body["data-strings"]) == pages.load_strings()


def test_languages_have_the_same_keys_and_placeholders():
    strings = pages.load_strings()
    assert set(strings) == set(pages.LANGUAGES)
    for key, text in strings["en"].items():
        assert sorted(re.findall(r"\{(\w+)\}", text)) == sorted(re.findall(r"\{(\w+)\}", strings["id"][key])), key


# a key-like literal inside a translate/translateLabel/ApiError statement, but not an element id,
# a tag name or a class name passed to a helper in the same statement
KEY_LITERAL = re.compile(r'(?<!\$\()(?<!createElement\()(?<!paragraph\()"([a-z]+(?:_[a-z]+)*)"')


def test_every_string_key_the_page_uses_exists(client):
    keys = set(pages.load_strings()["en"])
    used = set(re.findall(r'data-i18n(?:-placeholder)?="(\w+)"', client.get("/").text))
    for script in pages.STATIC_DIR.glob("*.js"):
        for statement in re.findall(r"\b(?:translate|translateLabel|ApiError)\(([^;]*)", script.read_text("utf-8")):
            used |= set(KEY_LITERAL.findall(statement))
    assert {"sending", "timing", "cite_label", "error_network", "source_meta"} <= used
    assert used <= keys, used - keys


@pytest.mark.parametrize("name, media_type", [
    ("app.js", "text/javascript"), ("style.css", "text/css"),
    ("i18n.json", "application/json"), ("favicon.svg", "image/svg+xml"),
])
def test_static_files_are_served_locally(client, name, media_type):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type


def test_scripts_never_parse_data_as_html():
    for script in pages.STATIC_DIR.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{script.name} uses {sink}"
