"""POST /api/chat in generative mode, with a fake OpenAI-compatible endpoint over real HTTP."""
from __future__ import annotations

import json

import pytest
from fake_llm import serve_fake
from fastapi.testclient import TestClient

from web.app import create_app

QUESTION = "How many strategy points does the Bali Agenda on Industry 4.0 contain?"
OFF_TOPIC = "What is the recipe for chocolate chip cookies?"
EXISTING_FIELDS = {"answer", "language", "abstained", "citations", "timings_ms"}


def eight_points(sources: list[str]) -> str:
    """A faithful English answer citing the sentence about the eight points."""
    n = next(i for i, s in enumerate(sources, start=1) if "delapan poin" in s)
    return f"The Bali Agenda on Industry 4.0 contains eight strategy points [{n}]."


@pytest.fixture(scope="module")
def fake_server():
    with serve_fake() as fake:
        yield fake


@pytest.fixture()
def fake(fake_server):
    fake_server.set(reply=eight_points)
    return fake_server


def client_for(served, fake, **overrides) -> TestClient:
    """An app over `served` (each store in turn) whose language model is the fake."""
    settings, engine = served
    settings = settings.model_copy(update={"llm_base_url": fake.url, "llm_timeout_s": 10.0, **overrides})
    return TestClient(create_app(settings, engine=engine))


@pytest.fixture()
def client(served, fake):
    return client_for(served, fake)


def ask(client: TestClient, **body) -> dict:
    resp = client.post("/api/chat", json={"question": QUESTION, "mode": "generative", **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def events(client: TestClient, **body) -> list[tuple[str, dict]]:
    """POST with stream=true and parse the Server-Sent Events."""
    with client.stream("POST", "/api/chat", json={"question": QUESTION, "stream": True, **body}) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        text = resp.read().decode()
    out = []
    for block in filter(None, text.split("\n\n")):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_good_generated_answer(client, fake):
    body = ask(client)
    assert body["answer"] == eight_points([c["text"] for c in body["citations"]])
    assert (body["mode"], body["fallback"], body["fallback_reason"]) == ("generative", False, None)
    assert body["language"] == "en" and body["timings_ms"]["generate"] > 0
    assert "[1] " in fake.requests[0]["messages"][-1]["content"]


def test_extractive_response_keeps_its_fields(client, fake):
    body = ask(client, mode="extractive")
    assert EXISTING_FIELDS <= set(body) and (body["mode"], body["fallback"]) == ("extractive", False)
    assert body["answer"].startswith("According to the documents") and fake.requests == []


def test_mode_defaults_to_the_setting(served, fake):
    client = client_for(served, fake, answer_mode="generative")
    body = client.post("/api/chat", json={"question": QUESTION}).json()
    assert body["mode"] == "generative" and not body["fallback"] and len(fake.requests) == 1
    assert client_for(served, fake).post("/api/chat", json={"question": QUESTION}).json()["mode"] \
        == "extractive"


@pytest.mark.parametrize("behaviour, reason", [
    ({"reply": "The Bali Agenda contains eight strategy points [9]."}, "citation_out_of_range"),
    ({"reply": "The Bali Agenda on Industry 4.0 contains 15 strategy points [1]."}, "unsupported_number"),
    ({"status": 500}, "endpoint_error"),
])
def test_rejected_or_failed_generation_returns_the_extractive_answer(client, fake, behaviour, reason):
    extractive = ask(client, mode="extractive")
    fake.set(**behaviour)
    body = ask(client)
    assert (body["fallback"], body["fallback_reason"], body["mode"]) == (True, reason, "generative")
    assert body["answer"] == extractive["answer"] and body["citations"] == extractive["citations"]


def test_model_finding_no_answer_in_the_sources_abstains(client, fake):
    extractive = ask(client, mode="extractive")
    fake.set(reply="NOT IN SOURCES")
    body = ask(client)
    assert (body["abstained"], body["fallback"], body["mode"]) == (True, False, "generative")
    assert body["answer"] == "Sorry, the documents don't contain an answer to this question."
    assert body["citations"] == extractive["citations"] and not extractive["abstained"]


def test_timeout_returns_the_extractive_answer(served, fake):
    fake.set(reply=eight_points, delay_s=2.0)
    body = ask(client_for(served, fake, llm_timeout_s=0.5))
    assert (body["fallback"], body["fallback_reason"]) == (True, "timeout")
    assert body["answer"].startswith("According to the documents")


def test_abstained_retrieval_never_generates(client, fake):
    resp = client.post("/api/chat", json={"question": OFF_TOPIC, "mode": "generative"})
    body = resp.json()
    assert (body["abstained"], body["fallback"], body["mode"]) == (True, False, "generative")
    assert fake.requests == []


def test_stream_sends_deltas_then_the_verified_answer(client, fake):
    got = events(client, mode="generative")
    kinds = [kind for kind, _ in got]
    assert kinds[-1] == "final" and kinds.count("final") == 1 and kinds.count("delta") > 3
    final = got[-1][1]
    assert "".join(data["text"] for kind, data in got[:-1]) == final["answer"]
    assert (final["mode"], final["fallback"]) == ("generative", False) and final["citations"]


def test_stream_with_an_invented_number_ends_with_the_fallback(client, fake):
    fake.set(reply="The Bali Agenda on Industry 4.0 contains 15 strategy points [1].")
    got = events(client, mode="generative")
    final = got[-1][1]
    assert (final["fallback"], final["fallback_reason"]) == (True, "unsupported_number")
    assert final["answer"].startswith("According to the documents")


def test_extractive_stream_is_one_delta_and_the_final_answer(client, fake):
    got = events(client, mode="extractive")
    assert [kind for kind, _ in got] == ["delta", "final"]
    assert got[0][1]["text"] == got[1][1]["answer"] and got[1][1]["mode"] == "extractive"


def test_stream_errors_before_answering_keep_their_status(client):
    resp = client.post("/api/chat", json={"question": "  ", "stream": True})
    assert resp.status_code == 422


def test_unknown_mode_is_rejected(client):
    assert client.post("/api/chat", json={"question": QUESTION, "mode": "poetic"}).status_code == 422
