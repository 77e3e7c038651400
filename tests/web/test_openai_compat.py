"""The OpenAI-compatible endpoints, driven by the official `openai` SDK against a real server."""
from __future__ import annotations

import json

import httpx
import openai
import pytest
from conftest import LiveServer
from fake_llm import serve_fake
from fastapi.testclient import TestClient
from pydantic import SecretStr

from qa.engine import Engine
from qa.engine import config_from_settings
from web.app import create_app
from web.openai_compat import deltas

DOC = "indonesia-unido-industri-4.0.txt"
WHO_EN = "Who is the UNIDO representative for Indonesia?"
COMPONENTS_ID = "Apa saja empat komponen Country Programme?"


@pytest.fixture(scope="module")
def sdk(api_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=api_server + "/v1", api_key="unused", max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def document_text(api_server) -> str:
    return httpx.get(f"{api_server}/api/documents/{DOC}").json()["text"]


def user(text) -> list[dict]:
    return [{"role": "user", "content": text}]


def assert_grounded(citations: list[dict], text: str) -> None:
    assert citations, "expected citations"
    for c in citations:
        assert c["doc_id"] == DOC and text[c["start"]:c["end"]] == c["text"]


def test_english_question_gets_a_cited_completion(sdk, document_text):
    done = sdk.chat.completions.create(model="qa", messages=user(WHO_EN))
    assert done.object == "chat.completion" and done.model == "qa" and done.id.startswith("chatcmpl-")
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "Esam Alqararah" in choice.message.content and "[1]" in choice.message.content
    assert done.language == "en" and done.abstained is False  # extra fields survive in the SDK's model
    assert_grounded(done.citations, document_text)
    assert "Esam Alqararah" in done.citations[0]["text"]


def test_indonesian_question_and_content_parts(sdk, document_text):
    parts = [{"type": "text", "text": COMPONENTS_ID}]
    done = sdk.chat.completions.create(model="qa", messages=user(parts), temperature=0.2, max_tokens=5)
    assert "poverty reduction" in done.choices[0].message.content  # sampling knobs are ignored
    assert done.language == "id" and done.choices[0].message.content.startswith("Menurut dokumen")
    assert_grounded(done.citations, document_text)


def test_last_user_message_is_the_question(sdk):
    messages = [{"role": "system", "content": "Answer briefly."}, *user("What is the capital of France?"),
                {"role": "assistant", "content": "I don't know."}, *user(WHO_EN)]
    done = sdk.chat.completions.create(model="qa", messages=messages)
    assert "Esam Alqararah" in done.choices[0].message.content


def test_citations_match_api_chat(sdk, api_server):
    done = sdk.chat.completions.create(model="qa", messages=user(WHO_EN), extra_body={"top_k": 2})
    api = httpx.post(f"{api_server}/api/chat", json={"question": WHO_EN, "top_k": 2}, timeout=30).json()
    assert done.citations == api["citations"] and len(done.citations) == 2
    assert done.choices[0].message.content == api["answer"]


def test_stream_yields_the_same_answer_then_citations(sdk):
    whole = sdk.chat.completions.create(model="qa", messages=user(WHO_EN))
    chunks = list(sdk.chat.completions.create(model="qa", messages=user(WHO_EN), stream=True))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content and len(chunks) > 5
    assert [c.choices[0].finish_reason for c in chunks].count("stop") == 1
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and final.citations == whole.citations


def test_stream_wire_format(api_server):
    body = {"model": "qa", "messages": user(WHO_EN), "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{api_server}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in r.iter_lines() if line]
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 0
    assert json.loads(events[-3])["citations"]


def test_models_list_and_retrieve(sdk):
    assert [m.id for m in sdk.models.list()] == ["qa"]
    assert sdk.models.retrieve("qa").owned_by == "qa-indonesia"
    with pytest.raises(openai.NotFoundError) as err:
        sdk.models.retrieve("gpt-4o")
    assert err.value.code == "model_not_found"


@pytest.mark.parametrize("kwargs, error, param, code", [
    ({"model": "gpt-4o", "messages": user(WHO_EN)}, openai.NotFoundError, "model", "model_not_found"),
    ({"model": "qa", "messages": user(WHO_EN), "n": 2}, openai.BadRequestError, "n", "unsupported_value"),
    ({"model": "qa", "messages": [{"role": "system", "content": "hi"}]}, openai.BadRequestError, "messages", None),
    ({"model": "qa", "messages": []}, openai.BadRequestError, "messages", None),
    ({"model": "qa", "messages": user("   ")}, openai.BadRequestError, "messages", None),
    ({"model": "qa", "messages": user(WHO_EN), "extra_body": {"top_k": 99}}, openai.BadRequestError, "top_k", None),
])
def test_errors_reach_the_sdk_as_openai_errors(sdk, kwargs, error, param, code):
    with pytest.raises(error) as err:
        sdk.chat.completions.create(**kwargs)
    assert err.value.type == "invalid_request_error" and err.value.param == param and err.value.code == code
    assert err.value.message


@pytest.mark.parametrize("payload, param, code", [
    ({"messages": user(WHO_EN)}, "model", "missing_required_parameter"),
    ({"model": "qa"}, "messages", "missing_required_parameter"),
    ({"model": "qa", "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role", None),
    ({"model": "qa", "messages": "hi"}, "messages", None),
])
def test_validation_errors_use_the_openai_shape(api_server, payload, param, code):
    r = httpx.post(f"{api_server}/v1/chat/completions", json=payload)
    assert r.status_code == 400
    assert r.json()["error"] == {"message": r.json()["error"]["message"], "type": "invalid_request_error",
                                 "param": param, "code": code}


def test_malformed_json_and_api_routes_keep_their_shape(api_server):
    r = httpx.post(f"{api_server}/v1/chat/completions", content=b"{nope",
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert "detail" in httpx.post(f"{api_server}/api/chat", json={}).json()  # /api errors untouched


def test_no_index_is_a_503_in_openai_shape(reference_settings, embedder):
    empty = Engine(embedder, config_from_settings(reference_settings))
    with TestClient(create_app(reference_settings, engine=empty)) as client:
        for stream in (False, True):
            r = client.post("/v1/chat/completions", json={"model": "qa", "messages": user(WHO_EN), "stream": stream})
            assert r.status_code == 503 and r.headers["content-type"] == "application/json"
            err = r.json()["error"]
            assert err["type"] == "server_error" and err["code"] == "no_index" and "qa index" in err["message"]
        assert client.get("/v1/models").json()["data"][0]["id"] == "qa"  # front-ends can still be configured


@pytest.mark.parametrize("text, pieces", [
    ("a b c", ["a", " b", " c"]),
    ("Menurut dokumen: x. [1]", ["Menurut", " dokumen:", " x.", " [1]"]),
    ("  two\nlines \n", ["  two", "\nlines", " \n"]),
    ("", [""]),
])
def test_deltas_concatenate_back_to_the_answer(text, pieces):
    assert deltas(text) == pieces and "".join(pieces) == text


@pytest.fixture(scope="module")
def generative(served):
    """A real server whose default answer mode is generative, backed by a fake LLM endpoint (each store)."""
    settings, engine = served
    with serve_fake() as fake:
        settings = settings.model_copy(update={"answer_mode": "generative", "llm_base_url": fake.url})
        with LiveServer(create_app(settings, engine=engine)) as server:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=30)
            yield fake, client


def test_generative_mode_streams_only_the_verified_answer(generative):
    fake, client = generative
    reply = "UNIDO is represented in Indonesia by Esam Alqararah, according to the document [1]."
    fake.set(reply=reply)
    done = client.chat.completions.create(model="qa", messages=user(WHO_EN))
    assert done.choices[0].message.content == reply
    assert (done.mode, done.fallback) == ("generative", False)
    fake.set(reply="The representative has led 99 projects [1].")  # a number the sources don't contain
    chunks = list(client.chat.completions.create(model="qa", messages=user(WHO_EN), stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "99" not in text and "Esam Alqararah" in text  # the rejected draft never reached the client
    assert (chunks[-1].fallback, chunks[-1].fallback_reason) == (True, "unsupported_number")


def test_mode_can_be_chosen_per_request(generative):
    fake, client = generative
    fake.set(reply="Esam Alqararah [1].")
    done = client.chat.completions.create(model="qa", messages=user(WHO_EN), extra_body={"mode": "extractive"})
    assert done.mode == "extractive" and done.choices[0].message.content.startswith("According to")
    assert fake.requests == []


def test_api_key_is_checked_like_openai_checks_it(reference_settings, engine):
    settings = reference_settings.model_copy(update={"api_key": SecretStr("sekret")})
    with LiveServer(create_app(settings, engine=engine)) as server:
        def sdk_with(key):
            return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30)

        with pytest.raises(openai.AuthenticationError) as err:
            sdk_with("wrong").chat.completions.create(model="qa", messages=user(WHO_EN))
        assert err.value.code == "invalid_api_key" and "QA_API_KEY" in err.value.message
        done = sdk_with("sekret").chat.completions.create(model="qa", messages=user(WHO_EN))
        assert "Esam Alqararah" in done.choices[0].message.content
