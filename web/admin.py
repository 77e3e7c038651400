"""Admin API: upload and delete documents, rebuild the index. Bearer token only; logic lives in qa/library.

Each call returns when the new index is live (the build runs in a worker thread, so chat keeps
being answered meanwhile, from the old index until the swap). Unchanged documents' vectors are
reused, so a call embeds only what changed.
"""
from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile  # what request.form() gives (FastAPI's is a subclass)

from qa.library import Change, Library
from web.schemas import DocumentChanged, ErrorOut, IndexBuild, ValidationErrorOut
from web.security import require_admin

AUTH = {401: {"model": ErrorOut, "description": "missing or wrong admin token"},
        403: {"model": ErrorOut, "description": "no admin token is configured: document management is disabled"}}
BUSY = {409: {"model": ErrorOut, "description": "another index build is running, or the document is read-only"}}
DISK = {503: {"model": ErrorOut, "description": "the index or uploads folder is not writable (nothing changed)"},
        507: {"model": ErrorOut, "description": "no space left to write the index (nothing changed)"}}
UPLOAD_ERRORS = {
    413: {"model": ErrorOut, "description": "the file is over QA_MAX_UPLOAD_BYTES"},
    415: {"model": ErrorOut, "description": "not a .txt, .md, .pdf, .docx, .html or .htm file"},
    422: {"model": ErrorOut | ValidationErrorOut, "description": "not UTF-8, empty, binary, a PDF/Word/HTML file without text, encrypted or corrupt, no usable name, "
          "a broken file among the documents on disk, or no `file` field"},
}

# The form is read inside the endpoint, after the token check; a `File(...)` parameter would make
# FastAPI parse the whole multipart body before any dependency runs, for anonymous clients too.
UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "a UTF-8 .txt or .md file, "
                            "a PDF with a text layer, a Word .docx or an HTML page"}}}}}}}

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)], responses={**AUTH, **BUSY, **DISK})


def library_of(request: Request) -> Library:
    return Library(request.app.state.settings, request.app.state.engine)


def to_changed(change: Change) -> DocumentChanged:
    return DocumentChanged(doc_id=change.doc_id, replaced=change.replaced, index=IndexBuild(**asdict(change.index)))


@router.post("/api/documents", status_code=201, response_model=DocumentChanged, responses=UPLOAD_ERRORS,
             openapi_extra=UPLOAD_BODY)
async def upload_document(request: Request):
    """Add (or replace) a document in the uploads folder and reindex."""
    form = await request.form(max_files=1, max_fields=8)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise RequestValidationError([{"loc": ("body", "file"), "msg": "Field required", "type": "missing"}])
    limit = request.app.state.settings.max_upload_bytes
    data = await file.read(limit + 1)  # one byte over is enough to know it is too large
    change = await run_in_threadpool(library_of(request).add_document, file.filename or "", data)
    return to_changed(change)


@router.delete("/api/documents/{doc_id:path}", response_model=DocumentChanged,
               responses={404: {"model": ErrorOut, "description": "no uploaded document has this id"}})
async def delete_document(doc_id: str, request: Request):
    """Remove an uploaded document and reindex (corpus documents are read-only: 409)."""
    change = await run_in_threadpool(library_of(request).remove_document, doc_id)
    return to_changed(change)


@router.post("/api/admin/reindex", response_model=IndexBuild,
             responses={422: {"model": ErrorOut, "description": "a document on disk can't be read (the message names it)"}})
async def reindex(request: Request):
    """Rebuild the index from the documents on disk and swap it in."""
    done = await run_in_threadpool(library_of(request).reindex)
    return IndexBuild(**asdict(done))
