"""The answering service: built from Settings, one place for top_k, mode and the reranking step."""
from __future__ import annotations

import httpx
import pytest
from conftest import LiveServer
from fake_llm import serve_fake

from qa.errors import InvalidQuestion
from qa.service import Service
from qa.settings import Settings
from web.app import create_app
from web.client import QAClient

WHO = "Who is Dody Widodo?"
POINTS = "How many strategy points does the Bali Agenda on Industry 4.0 contain?"


@pytest.fixture(scope="module")
def service(reference_settings, engine) -> Service:
    return Service.from_settings(reference_settings, engine=engine)


def test_qa_top_k_is_the_default_for_the_api_v1_and_the_client(reference_settings, monkeypatch):
    """QA_TOP_K used to be ignored: the request model's and the client's own default (3) always won."""
    monkeypatch.setenv("QA_TOP_K", "2")
    settings = Settings(index_dir=reference_settings.index_dir, reload_interval_s=0, _env_file=None)
    with LiveServer(create_app(settings)) as server, QAClient(server.url, timeout=60) as qa:
        chat = httpx.post(f"{server.url}/api/chat", json={"question": WHO}, timeout=60).json()
        assert len(chat["citations"]) == 2
        assert len(qa.ask(WHO).citations) == 2 and len(qa.ask(WHO, top_k=4).citations) == 4
        completion = httpx.post(f"{server.url}/v1/chat/completions", timeout=60, json={
            "model": "qa", "messages": [{"role": "user", "content": WHO}]}).json()
        assert len(completion["citations"]) == 2


def test_top_k_none_means_the_configured_number(service, engine):
    assert len(service.ask(WHO).citations) == engine.config.top_k == 3
    assert len(service.ask(WHO, top_k=1).citations) == 1


def test_mode_defaults_to_the_settings_and_requests_override_it(reference_settings, engine):
    with serve_fake() as fake:
        fake.set(reply="The Bali Agenda contains eight strategy points [1].")
        settings = reference_settings.model_copy(update={"llm_base_url": fake.url, "answer_mode": "generative"})
        generative = Service.from_settings(settings, engine=engine)
        assert generative.ask(POINTS).mode == "generative"
        assert generative.ask(POINTS, mode="extractive").mode == "extractive"
        events = list(generative.stream(POINTS))
    assert [e.kind for e in events][-1] == "final" and events[-1].answer.mode == "generative"
    assert {e.kind for e in events[:-1]} == {"delta"}


def test_stream_raises_before_the_first_event(service):
    with pytest.raises(InvalidQuestion):
        service.stream("   ")  # not a generator: the error comes when asked, not when iterated

