"""JSON API routes: chat, documents, health. Thin: all logic lives in `qa`."""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from qa import pipeline
from qa.engine import Engine
from qa.errors import UnknownDocument
from web.schemas import ChatRequest, ChatResponse, DocumentOut, DocumentSummary, ErrorOut, Health

router = APIRouter()
ERRORS = {503: {"model": ErrorOut, "description": "no index loaded"}}


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def to_response(ans) -> ChatResponse:
    """Map the pipeline's Answer onto the public response shape."""
    return ChatResponse(answer=ans.answer, language=ans.language, abstained=ans.abstained,
                        citations=[asdict(c) for c in ans.citations], timings_ms=ans.timings_ms)


@router.post("/api/chat", response_model=ChatResponse, responses=ERRORS, tags=["chat"])
async def chat(body: ChatRequest, request: Request) -> ChatResponse:
    """Answer a question with sentence-level citations, or abstain."""
    ans = await run_in_threadpool(pipeline.answer, body.question, engine_of(request), top_k=body.top_k)
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
