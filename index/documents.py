"""Load documents from files and folders: .txt/.md verbatim, PDF, Word and HTML through index/formats."""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import DocumentError
from index.formats import extract
from index.types import Document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx", ".html", ".htm")
TITLE_LINE_CHARS = 100  # a first line longer than this is a paragraph, not a title
TITLE_LINE = re.compile(r"[^\S\r\n]*(\S[^\r\n]*?)[^\S\r\n]*(?:\r\n|\r|\n)[^\S\r\n]*(?:\r\n|\r|\n)")
NOT_A_TITLE_END = ".!?:;,…"
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def checksum(text: str) -> str:
    """Return the sha256 of a document's text (how changes are detected)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def title_of(doc_id: str, text: str) -> str:
    """Return a Markdown '# heading' on the first line if any, else the file stem."""
    first = text.lstrip().split("\n", 1)[0].strip()
    if first.startswith("# "):
        return first[2:].strip()
    return Path(doc_id).stem


def title_line(text: str) -> tuple[str, int] | None:
    """(title, end offset) when the first line is short, has no closing punctuation and a blank line follows.

    Most press releases and articles saved as plain text open that way; the title then names
    the document in every text embedded for it (index/build.in_context) and is not cited.
    """
    m = TITLE_LINE.match(text)
    if m is None or len(m.group(1)) > TITLE_LINE_CHARS or m.group(1)[-1] in NOT_A_TITLE_END:
        return None
    return m.group(1), m.end(1)


def read_document(path: Path, doc_id: str) -> Document | None:
    """Read one file (UTF-8 text, or a format index/formats reads); None (with a warning) when it is empty."""
    data = path.read_bytes()
    if path.suffix.lower() in TEXT_SUFFIXES:
        return text_document(path, doc_id, data)
    try:
        out = extract(path.name, data)
    except DocumentError as exc:
        raise DocumentError(f"{path} {exc}") from None
    title, body_start = out.title, 0
    if title and (out.text.startswith(title + "\n") or out.text == title):
        body_start = len(title)
    elif not title and (found := title_line(out.text)):
        title, body_start = found
    return Document(doc_id=doc_id, title=title or Path(doc_id).stem, text=out.text, checksum=checksum(out.text),
                    pages=out.pages, body_start=body_start)


def text_document(path: Path, doc_id: str, data: bytes) -> Document | None:
    """A .txt or .md file verbatim; a .txt's title line (see `title_line`) titles it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{path} is not UTF-8 (byte {exc.start}); convert it, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM is encoding, not content; offsets refer to the text after it
    if not text.strip():
        log.warning("skipping empty document %s", path)
        return None
    found = title_line(text) if path.suffix.lower() == ".txt" else None
    title, body_start = found if found else (title_of(doc_id, text), 0)
    return Document(doc_id=doc_id, title=title, text=text, checksum=checksum(text), body_start=body_start)


def _files_under(root: Path) -> list[tuple[Path, str]]:
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise DocumentError(f"{root}: only {', '.join(SUFFIXES)} files can be indexed")
        return [(root, root.name)]
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return [(p, p.relative_to(root).as_posix()) for p in found]


@dataclass(frozen=True)
class Sources:
    """The documents read from some paths, and the files that could not be read, with why."""

    documents: list[Document]
    skipped: dict[str, str] = field(default_factory=dict)  # file -> the error, naming the fix


def read_sources(paths: list[Path] | None = None, *, strict: bool = False) -> Sources:
    """Read every supported file under the given paths (the bundled corpus when none).

    An unreadable file (scanned or encrypted PDF, corrupt file, not UTF-8) is skipped with a
    warning and listed in `skipped`, so one bad file among many does not stop a build;
    `strict` raises its DocumentError instead.
    """
    roots = [Path(p) for p in paths] if paths else [DEFAULT_CORPUS]
    docs: dict[str, Document] = {}
    skipped: dict[str, str] = {}
    for root in roots:
        if not root.exists():
            raise DocumentError(f"{root} does not exist; pass a file or folder of documents ({', '.join(SUFFIXES)})")
        for path, doc_id in _files_under(root):
            if doc_id in docs:
                raise DocumentError(f"two documents share the id {doc_id!r}; index their folders separately or rename one")
            try:
                doc = read_document(path, doc_id)
            except DocumentError as exc:
                if strict:
                    raise
                log.warning("skipping %s", exc)
                skipped[str(path)] = str(exc)
                continue
            if doc is not None:
                docs[doc_id] = doc
    if not docs:
        why = f" ({len(skipped)} unreadable: {'; '.join(skipped.values())})" if skipped else ""
        raise DocumentError(f"no non-empty documents under {', '.join(map(str, roots))}{why}")
    return Sources(list(docs.values()), skipped)


def load_documents(paths: list[Path] | None = None) -> list[Document]:
    """Every document under the given paths; DocumentError on the first unreadable file."""
    return read_sources(paths, strict=True).documents
