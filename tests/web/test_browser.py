"""The chat page in real headless Chromium (Debian's), against a real server over the reference document."""
from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 375, "height": 740}
QUESTION = "Who is the UNIDO representative for Indonesia?"
ANSWER_SENTENCE = "UNIDO Representative for Indonesia, Esam Alqararah"
PROBES = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", '"><svg onload=alert(1)>']


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Tab:
    """A page plus what it did: every request URL, dialogs opened, script errors."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, url: str) -> None:
        self.page.goto(url)
        expect(self.page.locator("body.ready")).to_have_count(1)  # the module script has run

    def ask(self, question: str, kind: str = ".msg.bot:not(.pending), .msg.error"):
        """Type a question, press Enter, and return the reply that arrives."""
        before = self.page.locator(kind).count()
        self.page.locator("#question").fill(question)
        self.page.locator("#question").press("Enter")
        reply = self.page.locator(kind).nth(before)
        expect(reply).to_be_visible(timeout=60_000)
        return reply


def check_stayed_local(tab: Tab) -> None:
    hosts = {urlsplit(url).hostname for url in tab.requests if not url.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1", "localhost"}, tab.requests
    assert tab.requests, "no requests were recorded at all"
    assert not tab.dialogs and not tab.errors, (tab.dialogs, tab.errors)


@pytest.fixture
def open_tab(browser, live_server):
    """Open the page at a viewport and locale; afterwards, check nothing left localhost."""
    opened = []

    def open_(viewport: dict, locale: str) -> Tab:
        context = browser.new_context(viewport=viewport, locale=locale)
        tab = Tab(context.new_page())
        opened.append((context, tab))
        tab.open(live_server)
        return tab

    yield open_
    for context, tab in opened:
        check_stayed_local(tab)
        context.close()


@pytest.fixture
def desktop(open_tab) -> Tab:
    return open_tab(DESKTOP, "en-US")


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def test_answer_then_cited_sentence_highlighted_in_its_paragraph(desktop):
    page = desktop.page
    reply = desktop.ask(QUESTION)
    expect(reply).to_have_class("msg bot answer")
    expect(reply.locator(".text")).to_contain_text("Esam Alqararah")
    expect(reply.locator(".text")).to_have_attribute("lang", "en")
    expect(reply.locator(".short")).to_have_text("Short answer: Esam Alqararah [1]")  # a "who" question
    expect(page.locator(".msg.user .text")).to_have_text(QUESTION)
    expect(page.locator("#question")).to_be_enabled()
    expect(page.locator("#question")).to_be_focused()

    reply.locator(".cite", has_text="[1]").click()
    mark = page.locator("#source-body mark")
    expect(mark).to_have_count(1)
    expect(mark).to_contain_text(ANSWER_SENTENCE)
    assert mark.inner_text().startswith(ANSWER_SENTENCE)
    expect(mark).to_be_in_viewport()
    expect(mark).to_be_focused()
    paragraph = page.locator("#source-body p.cited")
    assert len(paragraph.inner_text()) > len(mark.inner_text())  # the sentence sits inside its paragraph
    expect(page.locator("#source-meta")).to_have_text(re.compile(r"^Source \[1\] · sentence \d+$"))
    shot(page, "desktop-answer.png")


def test_mobile_375px_in_indonesian(open_tab):
    tab = open_tab(MOBILE, "id-ID")
    page = tab.page
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.locator("label[for=question]")).to_have_text("Pertanyaan Anda")
    shot(page, "mobile-start.png")
    reply = tab.ask(QUESTION)
    reply.locator(".cite", has_text="[1]").click()
    mark = page.locator("#source-body mark")
    expect(mark).to_contain_text(ANSWER_SENTENCE)
    expect(mark).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
    shot(page, "mobile-source.png")
    reply.scroll_into_view_if_needed()
    shot(page, "mobile-answer.png")


def test_keyboard_only(desktop):
    page = desktop.page
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#question")).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator("#question")).to_have_value("first line\nsecond line")
    expect(page.locator(".msg.user")).to_have_count(0)  # Shift+Enter did not send

    page.locator("#question").fill("")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator(".msg.answer")).to_be_visible(timeout=60_000)
    for _ in range(12):  # walk back from the box into the answer's citation buttons
        if page.evaluate("document.activeElement.textContent") == "[1]":
            break
        page.keyboard.press("Shift+Tab")
    cite = page.locator(".msg.answer .cite", has_text="[1]")
    expect(cite).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#source-body mark")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#source-panel")).to_be_hidden()
    expect(cite).to_be_focused()  # focus returns to where the user was


def test_loading_state_while_waiting(desktop):
    page = desktop.page
    held = []
    page.route("**/api/chat", lambda route: held.append(route))  # hold the request until the loading state is checked
    page.locator("#question").fill(QUESTION)
    page.locator("#question").press("Enter")
    expect(page.locator("#question")).to_be_disabled()
    expect(page.locator("#send")).to_be_disabled()
    expect(page.locator("#send")).to_contain_text("Waiting")
    expect(page.locator(".msg.pending")).to_contain_text("Looking for an answer")
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator(".msg.answer")).to_be_visible(timeout=60_000)
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.locator("#question")).to_be_enabled()
    expect(page.locator("#send")).to_have_text("Send")


def test_errors_appear_in_plain_words(desktop):
    page = desktop.page
    too_long = "a" * 2001
    error = desktop.ask(too_long, ".msg.error")  # a real 422 from the server
    expect(error).to_contain_text("The question could not be processed")
    expect(error).to_contain_text("2000 characters")
    expect(page.locator("#question")).to_have_value(too_long)  # kept, to fix and resend

    page.route("**/api/chat", lambda route: route.abort("connectionrefused"))
    expect(desktop.ask("Is the server up?", ".msg.error")).to_contain_text("Could not reach the server")
    page.unroute("**/api/chat")

    page.route("**/api/chat", lambda route: route.fulfill(
        status=503, content_type="application/json", body=json.dumps({"detail": "no index loaded; run `qa index`"})))
    error = desktop.ask("And now?", ".msg.error")
    expect(error.locator(".text")).to_have_text("The service is not ready: no index loaded; run `qa index`")
    page.unroute("**/api/chat")

    page.route("**/api/chat", lambda route: route.fulfill(status=429, json={"detail": "rate limit exceeded"}))
    expect(desktop.ask("Again?", ".msg.error")).to_contain_text("Too many questions")
    shot(page, "desktop-errors.png")


def test_abstention_looks_different(desktop):
    reply = desktop.ask("What is the capital of France?")
    expect(reply).to_have_class("msg bot abstained")
    expect(reply.locator(".badge")).to_have_text("No answer supported by the documents")
    assert reply.evaluate("e => getComputedStyle(e).backgroundColor") != desktop.page.locator(
        ".msg.user").evaluate("e => getComputedStyle(e).backgroundColor")


def count_risky_elements(page) -> int:
    return page.evaluate("document.querySelectorAll('img, script, svg:not(.logo), iframe, [onerror], [onload]').length")


def test_probes_are_shown_as_text_and_never_run(desktop):
    page = desktop.page
    before = count_risky_elements(page)
    for probe in PROBES:
        desktop.ask(probe)
        expect(page.locator(".msg.user .text").last).to_have_text(probe)
    page.wait_for_timeout(300)  # give a would-be onerror time to fire
    assert count_risky_elements(page) == before
    assert not any(urlsplit(url).path == "/x" for url in desktop.requests)


def test_hostile_answer_and_document_text_stay_text(desktop):
    """Text from the server is never parsed as HTML either (responses faked inside the browser)."""
    page = desktop.page
    text = "Intro.\n<script>alert(1)</script> <img src=x onerror=alert(2)> is the cited sentence.\nEnd."
    start = text.index("<script>")
    citation = {"n": 1, "doc_id": "evil/doc.txt", "sentence_index": 1, "text": text[start:text.index("\nEnd")],
                "start": start, "end": text.index("\nEnd"), "score": 1.0}
    reply = {"answer": "<b>bold</b> <img src=x onerror=alert(3)> [1]", "language": "en", "abstained": False,
             "citations": [citation], "timings_ms": {"retrieve": 1.0, "answer": 1.0, "total": 2.0}}
    document = {"doc_id": "evil/doc.txt", "title": "<i>evil</i>", "text": text,
                "sentences": [{"index": 1, "start": citation["start"], "end": citation["end"]}]}
    page.route("**/api/chat", lambda route: route.fulfill(json=reply))
    page.route("**/api/documents/evil%2Fdoc.txt", lambda route: route.fulfill(json=document))
    before = count_risky_elements(page)
    answer = desktop.ask("anything")
    expect(answer.locator(".text")).to_have_text("<b>bold</b> <img src=x onerror=alert(3)> [1]")
    answer.locator(".cite").click()
    expect(page.locator("#source-body mark")).to_have_text(citation["text"])
    expect(page.locator("#source-title")).to_have_text("<i>evil</i>")
    page.wait_for_timeout(300)
    assert count_risky_elements(page) == before


def test_language_toggle_and_documents_list(desktop):
    page = desktop.page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="ID", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.locator("label[for=question]")).to_have_text("Pertanyaan Anda")
    expect(page.get_by_role("button", name="ID", exact=True)).to_have_attribute("aria-pressed", "true")
    page.reload()  # the choice outlives the page
    expect(page.locator("label[for=question]")).to_have_text("Pertanyaan Anda")

    toggle = page.locator("#docs-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    item = page.locator("#docs-list li").first
    expect(item).to_contain_text("indonesia-unido-industri-4.0")
    expect(item).to_contain_text(re.compile(r"\d+ kalimat · \d+ karakter"))
    item.locator("button").click()
    expect(page.locator("#source-body p").first).to_contain_text("Pada kesempatan terpisah")
    expect(page.locator("#source-body mark")).to_have_count(0)
    shot(page, "desktop-documents.png")
    page.get_by_role("button", name="EN", exact=True).click()
    expect(page.locator("#docs-heading")).to_have_text("Indexed documents")
    page.locator("#docs-close").click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()


def test_answer_time_reads_in_milliseconds_under_a_second(desktop):
    page = desktop.page
    for total, shown in ((31.4, "Answered in 31 ms"), (1530.0, "Answered in 1.5 s")):
        reply = {"answer": "Sorry, the documents don't contain an answer to this question.", "language": "en",
                 "abstained": True, "citations": [], "timings_ms": {"retrieve": 1.0, "answer": 1.0, "total": total}}
        page.unroute("**/api/chat")
        page.route("**/api/chat", partial(fulfil, reply=reply))
        expect(desktop.ask("anything").locator(".meta")).to_have_text(shown)


def fulfil(route, request=None, *, reply: dict) -> None:
    route.fulfill(json=reply)


def test_a_server_with_an_api_key_asks_for_it_once(browser, reference_settings, engine):
    """With QA_API_KEY set the documents need the key too; the page asks for it and sends it."""
    from conftest import LiveServer
    from web.app import create_app

    key = "k" * 32
    with LiveServer(create_app(reference_settings.model_copy(update={"api_key": key}), engine=engine)) as server:
        context = browser.new_context(viewport=DESKTOP, locale="en-US")
        tab = Tab(context.new_page())
        tab.open(server.url)
        page = tab.page
        expect(page.locator("#api-key")).to_be_hidden()
        expect(tab.ask(QUESTION, ".msg.error")).to_contain_text("needs an API key")
        page.locator("#api-key").fill(key)
        expect(tab.ask(QUESTION)).to_contain_text("Esam Alqararah")
        page.locator("#docs-toggle").click()
        expect(page.locator("#docs-list li")).to_have_count(1)  # GET /api/documents with the key
        check_stayed_local(tab)
        context.close()


def test_a_pdf_citation_shows_its_page(desktop):
    """The page a PDF citation carries is shown in the source panel (responses faked inside the browser)."""
    page = desktop.page
    text = "Judul\n\nNikel dipasok dari Morowali."
    citation = {"n": 1, "doc_id": "laporan.pdf", "sentence_index": 0, "text": text[7:], "start": 7, "end": len(text),
                "score": 0.9, "page": 2}
    reply = {"answer": "Nikel dipasok dari Morowali. [1]", "language": "id", "abstained": False,
             "citations": [citation], "timings_ms": {"retrieve": 1.0, "answer": 1.0, "total": 2.0}}
    document = {"doc_id": "laporan.pdf", "title": "Laporan", "text": text,
                "sentences": [{"index": 0, "start": 7, "end": len(text)}]}
    page.route("**/api/chat", lambda route: route.fulfill(json=reply))
    page.route("**/api/documents/laporan.pdf", lambda route: route.fulfill(json=document))
    answer = desktop.ask("Dari mana nikel dipasok?")
    expect(answer.locator(".cite")).to_have_attribute("title", re.compile(r"^laporan\.pdf \(p\. 2\): Nikel"))
    answer.locator(".cite").click()
    expect(page.locator("#source-meta")).to_have_text("Source [1] · page 2 · sentence 1")
