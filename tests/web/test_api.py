"""The API contract of POST /api/chat, the documents endpoints and /healthz."""
import re

import pytest
from fastapi.testclient import TestClient

from qa.engine import AnswerConfig, Engine
from web.app import create_app

REFERENCE = "indonesia-unido-industri-4.0.txt"


@pytest.fixture(scope="module")
def client(served):
    """The app over the FAISS index, then over the same corpus in PostgreSQL (skipped where none can start)."""
    settings, engine = served
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def test_chat_contract_and_offsets(client):
    r = client.post("/api/chat", json={"question": "Kapan RCID diadakan?", "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"answer", "language", "abstained", "citations", "timings_ms"}
    assert body["language"] == "id" and body["abstained"] is False
    assert set(body["timings_ms"]) >= {"retrieve", "answer", "total"}
    assert [c["n"] for c in body["citations"]] == [1, 2, 3]
    assert "2018" in body["citations"][0]["text"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])} <= {1, 2, 3}
    doc = client.get(f"/api/documents/{REFERENCE}").json()
    for c in body["citations"]:
        assert doc["text"][c["start"] : c["end"]] == c["text"]
        assert set(c) == {"n", "doc_id", "sentence_index", "text", "start", "end", "score", "page"}
        assert c["page"] is None  # a .txt has no pages
    mark = body["highlight"]  # a "when" question: the date inside citation 1
    assert mark["n"] == 1 and mark["kind"] == "date" and mark["text"] == "2018"
    assert doc["text"][mark["start"] : mark["end"]] == "2018"


def test_no_highlight_for_questions_without_a_short_answer(client):
    body = client.post("/api/chat", json={"question": "Mengapa UNIDO merasa bangga dalam kerja sama ini?"}).json()
    assert body["abstained"] is False and body["highlight"] is None


def test_default_top_k_is_three(client):
    body = client.post("/api/chat", json={"question": "Who is Dody Widodo?"}).json()
    assert len(body["citations"]) == 3 and body["language"] == "en"


@pytest.mark.parametrize("payload", [
    {"question": ""}, {"question": "   "}, {"question": "x" * 2001}, {"question": 42},
    {"question": ["a"]}, {}, {"question": "Apa?", "top_k": 0}, {"question": "Apa?", "top_k": 11},
    {"question": "Apa?", "top_k": "many"}, {"question": None},
])
def test_invalid_input_is_422(client, payload):
    r = client.post("/api/chat", json=payload)
    assert r.status_code == 422
    assert "detail" in r.json()


def test_non_json_body_is_422(client):
    r = client.post("/api/chat", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_documents(client):
    docs = client.get("/api/documents").json()
    assert docs == [{"doc_id": REFERENCE, "title": "indonesia-unido-industri-4.0", "n_sentences": 9,
                     "n_chars": len(client.get(f"/api/documents/{REFERENCE}").json()["text"])}]
    doc = client.get(f"/api/documents/{REFERENCE}").json()
    assert [s["index"] for s in doc["sentences"]] == list(range(9))
    assert client.get("/api/documents/nope.txt").status_code == 404
    assert "nope.txt" in client.get("/api/documents/nope.txt").json()["detail"]


def test_health_and_openapi(client, embedder):
    assert client.get("/healthz").json() == {"status": "ok", "documents": 1, "chunks": 6, "embedder": embedder.id}
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_no_index_is_503_with_the_fix(reference_settings, embedder, tmp_path):
    settings = reference_settings.model_copy(update={"index_dir": tmp_path})
    with TestClient(create_app(settings, engine=Engine(embedder, AnswerConfig()))) as c:
        for r in (c.post("/api/chat", json={"question": "Apa itu UNIDO?"}), c.get("/healthz"),
                  c.get("/api/documents")):
            assert r.status_code == 503
            assert "qa index" in r.json()["detail"]
