"""Generative answers against a fake OpenAI-compatible endpoint over real HTTP."""
from __future__ import annotations

from dataclasses import replace

import pytest
from fake_llm import serve_fake
from conftest import free_port

from qa.compose import compose
from qa.generate import LLMConfig, build_messages, declined, generate_answer, stream_answer
from qa.types import Answer, Citation

SENTENCES = (
    "Bali Agenda on Industry 4.0 yang juga berisikan delapan poin strategi implementasi industri 4.0.",
    "Pertemuan Regional Conference on Industrial Development (RCID) diadakan pada tahun 2018.",
    "Kerja sama Indonesia dan UNIDO sudah berlangsung sejak tahun 1967.",
)
QUESTION = "How many strategy points does the Bali Agenda contain?"


def extractive(language: str = "en", abstained: bool = False) -> Answer:
    """An extractive answer over SENTENCES, as the pipeline would return it."""
    citations = tuple(Citation(n=i, doc_id="doc.txt", sentence_index=i - 1, text=t, start=0, end=len(t), score=0.9)
                      for i, t in enumerate(SENTENCES, start=1))
    return Answer(answer=f"According to the documents: {SENTENCES[0]} [1]", language=language,
                  abstained=abstained, citations=() if abstained else citations,
                  timings_ms={"retrieve": 5.0, "answer": 1.0, "total": 6.0})


@pytest.fixture(scope="module")
def server():
    with serve_fake() as fake:
        yield fake


@pytest.fixture()
def fake(server):
    server.set()
    return server


@pytest.fixture()
def config(fake) -> LLMConfig:
    return LLMConfig(base_url=fake.url, model="fake-model", api_key="sekret", timeout_s=10.0)


@pytest.fixture()
def impatient(config) -> LLMConfig:
    """Gives up after 0.5 s (the fake is told to take 2 s)."""
    return replace(config, timeout_s=0.5)


def test_good_answer_is_shown_with_the_same_citations(fake, config):
    fake.set(reply="The Bali Agenda on Industry 4.0 contains eight strategy points [1].")
    ans = generate_answer(QUESTION, extractive(), config)
    assert ans.answer == "The Bali Agenda on Industry 4.0 contains eight strategy points [1]."
    assert (ans.mode, ans.fallback, ans.fallback_reason) == ("generative", False, None)
    assert ans.citations == extractive().citations
    assert ans.timings_ms["generate"] > 0 and ans.timings_ms["total"] > 6.0


def test_prompt_numbers_the_sentences_and_names_the_model(fake, config):
    fake.set(reply="It has eight points [1].")
    generate_answer(QUESTION, extractive(), config)
    body, headers = fake.requests[0], fake.headers[0]
    user = body["messages"][-1]["content"]
    assert [f"[{i}] {t}" in user for i, t in enumerate(SENTENCES, start=1)] == [True] * 3
    assert QUESTION in user and "English" in body["messages"][0]["content"]
    assert body["model"] == "fake-model" and body["stream"] is False
    assert headers["authorization"] == "Bearer sekret"


def test_indonesian_question_gets_indonesian_instructions():
    messages = build_messages("Berapa poin strategi?", extractive(language="id"))
    assert "bahasa Indonesia" in messages[0]["content"]
    assert messages[1]["content"].endswith("Jawaban dalam bahasa Indonesia, diakhiri nomor sumber seperti [1]:")


@pytest.mark.parametrize("reply, reason", [
    ("The Bali Agenda contains eight strategy points [4].", "citation_out_of_range"),
    ("The Bali Agenda contains eight strategy points.", "no_citation"),
    ("The Bali Agenda contains twelve strategy points [1].", "unsupported_number"),
    ("The RCID meeting was held in 2019 [2].", "unsupported_number"),
    ("The RCID meeting was held in March 2018 [2].", "unsupported_date"),
    ("The cooperation with UNESCO began in 1967 [3].", "unsupported_name"),
    ("Bali Agenda berisi delapan poin strategi implementasi industri [1].", "wrong_language"),
    ("   ", "empty_answer"),
])
def test_rejected_answers_fall_back_to_the_extractive_one(fake, config, reply, reason):
    fake.set(reply=reply)
    ans = generate_answer(QUESTION, extractive(), config)
    assert (ans.fallback, ans.fallback_reason, ans.mode) == (True, reason, "generative")
    assert ans.answer == extractive().answer and ans.citations == extractive().citations
    assert ans.draft == reply.strip()  # kept for logs and evaluation, never shown


@pytest.mark.parametrize("language, reply", [("en", "NOT IN SOURCES"), ("en", "Not in sources. [1]"),
                                             ("id", "TIDAK ADA DI SUMBER."), ("en", "**Tidak ada di sumber**")])
def test_model_saying_the_sources_lack_the_answer_abstains(fake, config, language, reply):
    fake.set(reply=reply)
    ans = generate_answer(QUESTION, extractive(language=language), config)
    assert (ans.abstained, ans.mode, ans.fallback, ans.fallback_reason) == (True, "generative", False, None)
    assert ans.answer == compose(extractive().citations, language, abstained=True)
    assert ans.citations == extractive().citations  # the closest sentences stay listed, as in extractive abstention
    assert ans.draft == reply and ans.timings_ms["generate"] > 0


@pytest.mark.parametrize("reply", ["The answer is not in sources [1].", "Not in the sources", "Bukan di sumber",
                                   "Sources say eight [1]. NOT IN SOURCES"])
def test_only_the_prompts_own_reply_counts_as_declining(reply):
    assert not declined(reply)


def test_prompt_offers_the_not_in_sources_reply():
    assert "NOT IN SOURCES" in build_messages(QUESTION, extractive())[0]["content"]
    assert "TIDAK ADA DI SUMBER" in build_messages("Berapa poin?", extractive(language="id"))[0]["content"]


def test_listed_citations_are_split(fake, config):
    fake.set(reply="RCID was held in 2018 and the Bali Agenda has eight points [1, 2].")
    ans = generate_answer(QUESTION, extractive(), config)
    assert (ans.fallback, ans.answer) == (False, "RCID was held in 2018 and the Bali Agenda has eight points [1][2].")


def test_language_is_judged_on_the_words_the_model_wrote_itself(fake, config):
    # mostly quoted Indonesian and English names: only "is", "the", "in" are the model's own
    fake.set(reply="RCID is the Regional Conference on Industrial Development in 2018 [2].")
    assert not generate_answer(QUESTION, extractive(), config).fallback


def test_number_checked_only_against_the_sentences_it_cites(fake, config):
    fake.set(reply="RCID was held in 2018 and the cooperation began in 1967 [1][2].")  # 1967 is in [3]
    assert generate_answer(QUESTION, extractive(), config).fallback_reason == "unsupported_number"


def test_a_single_wrong_citation_is_pointed_at_the_sentence_with_the_facts(fake, config):
    fake.set(reply="The cooperation with UNIDO began in 1967 [1].")  # the facts are all in [3]
    ans = generate_answer(QUESTION, extractive(), config)
    assert (ans.fallback, ans.answer) == (False, "The cooperation with UNIDO began in 1967 [3].")
    assert ans.draft == "The cooperation with UNIDO began in 1967 [1]."


@pytest.mark.parametrize("behaviour, reason", [
    ({"status": 500}, "endpoint_error"),
    ({"status": 503}, "endpoint_error"),
    ({"raw_body": "{not json"}, "bad_response"),
    ({"raw_body": '{"choices": []}'}, "bad_response"),
])
def test_endpoint_failures_fall_back(fake, config, behaviour, reason):
    fake.set(**behaviour)
    ans = generate_answer(QUESTION, extractive(), config)
    assert (ans.fallback, ans.fallback_reason) == (True, reason)
    assert ans.answer == extractive().answer


def test_slow_endpoint_times_out(fake, impatient):
    fake.set(delay_s=2.0, reply="It has eight points [1].")
    ans = generate_answer(QUESTION, extractive(), impatient)
    assert (ans.fallback, ans.fallback_reason, ans.answer) == (True, "timeout", extractive().answer)
    assert ans.timings_ms["generate"] < 1900


def test_unreachable_endpoint_falls_back():
    config = LLMConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout_s=1.0)
    assert generate_answer(QUESTION, extractive(), config).fallback_reason == "endpoint_error"


def test_unconfigured_endpoint_falls_back():
    config = LLMConfig(base_url="", model="m")
    assert generate_answer(QUESTION, extractive(), config).fallback_reason == "not_configured"


def test_abstained_retrieval_never_calls_the_model(fake, config):
    ans = generate_answer("What is the capital of Peru?", extractive(abstained=True), config)
    assert fake.requests == []
    assert (ans.abstained, ans.mode, ans.fallback) == (True, "generative", False)


def test_stream_yields_deltas_then_the_verified_answer(fake, config):
    reply = "The Bali Agenda on Industry 4.0 contains eight strategy points [1]."
    fake.set(reply=reply, chunk_chars=5)
    events = list(stream_answer(QUESTION, extractive(), config))
    deltas, final = events[:-1], events[-1]
    assert len(deltas) > 3 and all(e.kind == "delta" for e in deltas)
    assert "".join(e.text for e in deltas) == reply
    assert final.kind == "final" and final.answer.answer == reply and not final.answer.fallback
    assert fake.requests[0]["stream"] is True


def test_stream_with_an_invented_number_ends_in_the_extractive_answer(fake, config):
    fake.set(reply="The Bali Agenda contains 12 strategy points [1].")
    final = list(stream_answer(QUESTION, extractive(), config))[-1]
    assert (final.answer.fallback_reason, final.answer.answer) == ("unsupported_number", extractive().answer)


def test_stream_of_a_declining_reply_ends_in_an_abstention(fake, config):
    fake.set(reply="NOT IN SOURCES", chunk_chars=3)
    events = list(stream_answer(QUESTION, extractive(), config))
    assert "".join(e.text for e in events[:-1]) == "NOT IN SOURCES"  # the draft, as written
    assert events[-1].answer.abstained and events[-1].answer.answer == compose((), "en", abstained=True)


@pytest.mark.parametrize("behaviour, reason", [({"delay_s": 2.0}, "timeout"), ({"status": 500}, "endpoint_error")])
def test_stream_failures_end_in_the_extractive_answer(fake, impatient, behaviour, reason):
    fake.set(**behaviour)
    events = list(stream_answer(QUESTION, extractive(), impatient))
    assert [e.kind for e in events] == ["final"]
    assert (events[0].answer.fallback_reason, events[0].answer.answer) == (reason, extractive().answer)
