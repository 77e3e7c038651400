"""JSON API routes: chat, documents, health. Thin: all logic lives in `qa`."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from qa import generate, pipeline
from qa.engine import Engine
from qa.errors import UnknownDocument
from web.schemas import ChatRequest, ChatResponse, DocumentOut, DocumentSummary, ErrorOut, Health
from web.security import require_api_key

router = APIRouter()
ERRORS = {503: {"model": ErrorOut, "description": "no index loaded"}}
KEY = {401: {"model": ErrorOut, "description": "QA_API_KEY is set and the request lacks it"}}
SSE = {200: {"content": {"text/event-stream": {}},
             "description": "with `stream: true`: `delta` events ({text}), then one `final` event (ChatResponse)"}}


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def to_response(ans) -> ChatResponse:
    """Map the pipeline's Answer onto the public response shape."""
    return ChatResponse(answer=ans.answer, language=ans.language, abstained=ans.abstained,
                        citations=[asdict(c) for c in ans.citations], timings_ms=ans.timings_ms,
                        mode=ans.mode, fallback=ans.fallback, fallback_reason=ans.fallback_reason,
                        highlight=asdict(ans.highlight) if ans.highlight else None)


def sse(events: Iterator[generate.StreamEvent]) -> Iterator[str]:
    """Server-Sent Events: `delta` with the text so far unverified, `final` with the full response."""
    for event in events:
        if event.kind == "delta":
            yield f"event: delta\ndata: {json.dumps({'text': event.text}, ensure_ascii=False)}\n\n"
        else:
            yield f"event: final\ndata: {to_response(event.answer).model_dump_json()}\n\n"


@router.post("/api/chat", response_model=ChatResponse, responses={**ERRORS, **SSE, **KEY}, tags=["chat"],
             dependencies=[Depends(require_api_key)])
async def chat(body: ChatRequest, request: Request):
    """Answer a question with sentence-level citations, or abstain; optionally generated and streamed."""
    # retrieval runs before any byte is sent, so its errors keep their statuses even when streaming
    ans = await run_in_threadpool(pipeline.answer, body.question, engine_of(request), top_k=body.top_k)
    settings = request.app.state.settings
    generative = (body.mode or settings.answer_mode) == "generative"
    if body.stream:
        events = (generate.stream_answer(body.question, ans, generate.LLMConfig.from_settings(settings))
                  if generative else generate.extractive_events(ans))
        return StreamingResponse(sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    if generative:
        config = generate.LLMConfig.from_settings(settings)
        ans = await run_in_threadpool(generate.generate_answer, body.question, ans, config)
    return to_response(ans)


@router.get("/api/documents", response_model=list[DocumentSummary], responses=ERRORS, tags=["documents"])
def list_documents(request: Request) -> list[DocumentSummary]:
    """The indexed documents."""
    store = engine_of(request).require_store()
    return [DocumentSummary(doc_id=d.doc_id, title=d.title, n_chars=len(d.text),
                            n_sentences=store.manifest.documents[d.doc_id].n_sentences)
            for d in store.documents]


@router.get("/api/documents/{doc_id:path}", response_model=DocumentOut,
            responses={404: {"model": ErrorOut}, **ERRORS}, tags=["documents"])
def get_document(doc_id: str, request: Request) -> DocumentOut:
    """One document's full text and its sentence offsets."""
    store = engine_of(request).require_store()
    doc = store.document(doc_id)
    if doc is None:
        raise UnknownDocument(f"no indexed document has id {doc_id!r}; see GET /api/documents")
    spans = [{"index": s.index, "start": s.start, "end": s.end} for s in store.document_sentences(doc_id)]
    return DocumentOut(doc_id=doc.doc_id, title=doc.title, text=doc.text, sentences=spans)


@router.get("/healthz", response_model=Health, responses=ERRORS, tags=["health"])
def health(request: Request) -> Health:
    """Liveness and what is loaded."""
    engine = engine_of(request)
    store = engine.require_store()
    return Health(status="ok", documents=len(store.documents), chunks=len(store.chunks),
                  embedder=engine.embedder.id)
