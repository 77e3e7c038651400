"""Load .txt and .md documents verbatim from files and folders."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from index.errors import DocumentError
from index.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
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


def read_document(path: Path, doc_id: str) -> Document | None:
    """Read one file as UTF-8; None (with a warning) when it is empty."""
    data = path.read_bytes()
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
    return Document(doc_id=doc_id, title=title_of(doc_id, text), text=text, checksum=checksum(text))


def _files_under(root: Path) -> list[tuple[Path, str]]:
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise DocumentError(f"{root}: only {', '.join(SUFFIXES)} files can be indexed")
        return [(root, root.name)]
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return [(p, p.relative_to(root).as_posix()) for p in found]


def load_documents(paths: list[Path] | None = None) -> list[Document]:
    """Load every .txt/.md file under the given paths (the bundled corpus when none)."""
    roots = [Path(p) for p in paths] if paths else [DEFAULT_CORPUS]
    docs: dict[str, Document] = {}
    for root in roots:
        if not root.exists():
            raise DocumentError(f"{root} does not exist; pass a file or folder of .txt/.md documents")
        for path, doc_id in _files_under(root):
            if doc_id in docs:
                raise DocumentError(f"two documents share the id {doc_id!r}; index their folders separately or rename one")
            doc = read_document(path, doc_id)
            if doc is not None:
                docs[doc_id] = doc
    if not docs:
        raise DocumentError(f"no non-empty .txt/.md documents under {', '.join(map(str, roots))}")
    return list(docs.values())
