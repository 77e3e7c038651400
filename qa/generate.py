"""Generative answers: a language model rewrites the cited sentences in the question's language.

Any OpenAI-compatible chat-completions endpoint works (`python scripts/llm_local.py serve` starts a local one). The
model sees the extractive answer's citations numbered [1]..[k] and must cite them; its answer is
shown only if qa/verify.py finds every citation valid and every number, month and name in the
cited sentences, and it is in the question's language. Otherwise, or when the endpoint fails,
the extractive answer is returned with `fallback=True` and a `fallback_reason`.
A model that replies that the sources don't state the answer ("NOT IN SOURCES") abstains.
"""
from __future__ import annotations

import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Literal

import httpx

from qa.compose import compose
from qa.language import detect_language
from qa.settings import Settings
from qa.types import Answer
from qa.verify import normalize_markers, own_words, recite, verify

log = logging.getLogger("qa.generate")
GENERATIVE = "generative"

SYSTEM = {
    "en": ("Answer the question in English using only the numbered Indonesian source sentences. "
           "Write one or two short sentences. End each sentence with the number of the source it comes "
           "from, like [1]. Keep numbers, dates and names exactly as in the source. If the sources do not "
           "state the answer, write only: NOT IN SOURCES"),
    "id": ("Jawab pertanyaan dalam bahasa Indonesia hanya berdasarkan kalimat sumber bernomor. "
           "Tulis satu atau dua kalimat singkat. Akhiri setiap kalimat dengan nomor sumbernya, "
           "misalnya [1]. Tulis angka, tanggal, dan nama persis seperti di sumber. Jika sumber tidak "
           "menyebutkan jawabannya, tulis hanya: TIDAK ADA DI SUMBER"),
}
# What the prompt tells the model to write when the sources lack the answer (either language,
# whatever the question's): such a reply becomes an abstention, not a fallback to the extractive answer.
DECLINES = ("not in sources", "tidak ada di sumber")
ASK = {  # the citation instruction again, last: small models follow what they read just before answering
    "en": "Question: {q}\nAnswer in English, ending with the source number such as [1]:",
    "id": "Pertanyaan: {q}\nJawaban dalam bahasa Indonesia, diakhiri nomor sumber seperti [1]:",
}


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to call the chat-completions endpoint."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    max_tokens: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig:
        """The endpoint named by QA_LLM_* settings."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(base_url=settings.llm_base_url, model=settings.llm_model, api_key=key,
                   timeout_s=settings.llm_timeout_s)


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: a text delta, or the final verified Answer."""

    kind: Literal["delta", "final"]
    text: str = ""
    answer: Answer | None = None


class LLMError(Exception):
    """The endpoint could not give an answer; `reason` becomes the fallback_reason."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def build_messages(question: str, extractive: Answer) -> list[dict[str, str]]:
    """System instructions plus the numbered sentences and the question.

    Citations come numbered 1..k in order (qa/select.cite), so the model's [n] is citations[n-1].
    """
    lang = extractive.language if extractive.language in SYSTEM else "id"
    sources = "\n".join(f"[{i}] {c.text}" for i, c in enumerate(extractive.citations, start=1))
    user = f"Sources:\n{sources}\n\n" + ASK[lang].format(q=question.strip())
    return [{"role": "system", "content": SYSTEM[lang]}, {"role": "user", "content": user}]


def generate_answer(question: str, extractive: Answer, config: LLMConfig) -> Answer:
    """The model's verified answer, or the extractive one marked as a fallback."""
    if extractive.abstained:  # nothing to ground an answer in: never ask the model
        return replace(extractive, mode=GENERATIVE)
    t0 = time.perf_counter()
    try:
        text = complete(build_messages(question, extractive), config)
    except LLMError as exc:
        return fallback(extractive, exc, t0)
    return checked(text, extractive, t0)


def stream_answer(question: str, extractive: Answer, config: LLMConfig) -> Iterator[StreamEvent]:
    """Deltas as the model writes them (unverified), then one final event with the verified answer."""
    if extractive.abstained:
        yield StreamEvent("final", answer=replace(extractive, mode=GENERATIVE))
        return
    t0 = time.perf_counter()
    parts: list[str] = []
    try:
        for delta in stream_completion(build_messages(question, extractive), config):
            parts.append(delta)
            yield StreamEvent("delta", text=delta)
    except LLMError as exc:
        yield StreamEvent("final", answer=fallback(extractive, exc, t0))
        return
    yield StreamEvent("final", answer=checked("".join(parts), extractive, t0))


def extractive_events(extractive: Answer) -> Iterator[StreamEvent]:
    """An extractive answer as a stream: its whole text as one delta, then the final event."""
    yield StreamEvent("delta", text=extractive.answer)
    yield StreamEvent("final", answer=extractive)


def rejection(text: str, extractive: Answer) -> tuple[str, str] | None:
    """Why a generated answer must not be shown (reason, detail), or None when it passes."""
    verdict = verify(text, [c.text for c in extractive.citations])
    if not verdict.ok:
        return verdict.reason or "unverified", verdict.detail
    own = own_words(text, [c.text for c in extractive.citations])
    language = detect_language(own) if own else extractive.language  # all quoted: no language of its own
    if language != extractive.language:
        return "wrong_language", f"answer is in {language!r}, question in {extractive.language!r}"
    return None


def declined(text: str) -> bool:
    """The reply is the prompt's "not in the sources" line (markers, case and punctuation ignored)."""
    words = " ".join(re.sub(r"[\W\d_]+", " ", text.casefold()).split())
    return words.startswith(DECLINES)


def checked(text: str, extractive: Answer, t0: float) -> Answer:
    """Verify `text`; the generated Answer if it passes, else the extractive fallback.

    A reply saying the sources lack the answer is an abstention (the closest sentences stay cited).
    """
    draft = normalize_markers(text.strip())
    if declined(draft):
        message = compose(extractive.citations, extractive.language, abstained=True)
        return replace(extractive, answer=message, abstained=True, mode=GENERATIVE,
                       timings_ms=_timed(extractive, t0), draft=draft)
    text = recite(draft, [c.text for c in extractive.citations])
    problem = rejection(text, extractive)
    if problem:
        return fallback(extractive, LLMError(*problem), t0, draft=draft)
    return replace(extractive, answer=text, mode=GENERATIVE, timings_ms=_timed(extractive, t0), draft=draft)


def fallback(extractive: Answer, exc: LLMError, t0: float, draft: str | None = None) -> Answer:
    """The extractive answer, saying why the generated one (`draft`, if any) is not shown."""
    log.info("generative answer not shown: %s%s", exc, f"; the model said {draft!r}" if draft is not None else "")
    return replace(extractive, mode=GENERATIVE, fallback=True, fallback_reason=exc.reason,
                   timings_ms=_timed(extractive, t0), draft=draft)


def _timed(extractive: Answer, t0: float) -> dict[str, float]:
    spent = round((time.perf_counter() - t0) * 1000, 2)
    timings = dict(extractive.timings_ms)
    timings["generate"] = spent
    timings["total"] = round(timings.get("total", 0.0) + spent, 2)
    return timings


@contextmanager
def _endpoint_errors(config: LLMConfig) -> Iterator[None]:
    """Turn transport, status and parsing failures into LLMError with a fallback reason."""
    try:
        yield
    except httpx.TimeoutException:
        raise LLMError("timeout", f"no answer within {config.timeout_s} s") from None
    except httpx.HTTPStatusError as exc:
        raise LLMError("endpoint_error", f"HTTP {exc.response.status_code}") from None
    except httpx.HTTPError as exc:
        raise LLMError("endpoint_error", f"{type(exc).__name__} from {config.base_url}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:  # JSON that isn't a completion
        raise LLMError("bad_response", repr(exc)) from None


def _request(messages: list[dict[str, str]], config: LLMConfig, *, stream: bool) -> httpx.Request:
    if not config.base_url:
        raise LLMError("not_configured", "set QA_LLM_BASE_URL to an OpenAI-compatible endpoint")
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    body = {"model": config.model, "messages": messages, "temperature": 0.0,
            "max_tokens": config.max_tokens, "stream": stream}
    return httpx.Request("POST", config.base_url.rstrip("/") + "/chat/completions", json=body, headers=headers)


def complete(messages: list[dict[str, str]], config: LLMConfig) -> str:
    """One chat completion's text; LLMError on timeout, HTTP error or malformed reply."""
    request = _request(messages, config, stream=False)
    with _endpoint_errors(config), httpx.Client(timeout=config.timeout_s) as client:
        resp = client.send(request)
        resp.raise_for_status()
        content = resp.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("message content is not text")
        return content


def stream_completion(messages: list[dict[str, str]], config: LLMConfig) -> Iterator[str]:
    """Text deltas of a streamed chat completion (Server-Sent Events, `data: [DONE]` ends it)."""
    request = _request(messages, config, stream=True)
    deadline = time.monotonic() + config.timeout_s  # a whole-answer limit, not just per chunk
    with _endpoint_errors(config), httpx.Client(timeout=config.timeout_s) as client:
        resp = client.send(request, stream=True)
        try:
            resp.raise_for_status()
            for line in resp.iter_lines():
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the streamed answer took too long")
                data = line[5:].strip() if line.startswith("data:") else ""
                if data == "[DONE]":
                    return
                if data:
                    delta = json.loads(data)["choices"][0].get("delta") or {}
                    if delta.get("content"):
                        yield delta["content"]
        finally:
            resp.close()
