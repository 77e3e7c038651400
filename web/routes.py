"""JSON API routes: chat, documents, health. Thin: all logic lives in `qa`."""
from __future__ import annotations

import json
from typing import Iterator

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from qa.engine import Engine
from qa.errors import UnknownDocument
from qa.generate import StreamEvent
from qa.service import Service
from web.schemas import ChatRequest, ChatResponse, DocumentOut, DocumentSummary, ErrorOut, Health
from web.security import require_api_key

router = APIRouter()
ERRORS = {503: {"model": ErrorOut, "description": "no index loaded"}}
KEY = {401: {"model": ErrorOut, "description": "QA_API_KEY is set and the request lacks it"}}
SSE = {200: {"content": {"text/event-stream": {}},
             "description": "with `stream: true`: `delta` events ({text}), then one `final` event (ChatResponse)"}}


def service_of(request: Request) -> Service:
    return request.app.state.service


def engine_of(request: Request) -> Engine:
    return service_of(request).engine


def sse(events: Iterator[StreamEvent]) -> Iterator[str]:
    """Server-Sent Events: `delta` with the text so far unverified, `final` with the full response."""
    for event in events:
        if event.kind == "delta":
            yield f"event: delta\ndata: {json.dumps({'text': event.text}, ensure_ascii=False)}\n\n"
        else:
            yield f"event: final\ndata: {ChatResponse.from_answer(event.answer).model_dump_json()}\n\n"


@router.post("/api/chat", response_model=ChatResponse, responses={**ERRORS, **SSE, **KEY}, tags=["chat"],
             dependencies=[Depends(require_api_key)])
async def chat(body: ChatRequest, request: Request):
    """Answer a question with sentence-level citations, or abstain; optionally generated and streamed."""
    service = service_of(request)
    if body.stream:  # retrieval runs before any byte is sent, so its errors keep their statuses
        events = await run_in_threadpool(service.stream, body.question, body.top_k, body.mode)
        return StreamingResponse(sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    ans = await run_in_threadpool(service.ask, body.question, body.top_k, body.mode)
    return ChatResponse.from_answer(ans)


@router.get("/api/documents", response_model=list[DocumentSummary], responses={**ERRORS, **KEY}, tags=["documents"],
            dependencies=[Depends(require_api_key)])  # full texts: as protected as the answers quoting them
def list_documents(request: Request) -> list[DocumentSummary]:
    """The indexed documents."""
    store = engine_of(request).require_store()
    return [DocumentSummary(doc_id=d.doc_id, title=d.title, n_chars=len(d.text),
                            n_sentences=store.manifest.documents[d.doc_id].n_sentences)
            for d in store.documents]


@router.get("/api/documents/{doc_id:path}", response_model=DocumentOut,
            responses={404: {"model": ErrorOut}, **ERRORS, **KEY}, tags=["documents"],
            dependencies=[Depends(require_api_key)])
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
