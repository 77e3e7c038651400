"""Plain text out of PDF (text layer), Word (.docx) and HTML files.

The text returned is the document from then on: citation offsets point into it and
`/api/documents/{id}` serves it. Paragraphs are separated by a blank line, so the sentence
splitter and the chunker see the same structure as in a .txt file. Libraries: pypdf (BSD,
pure Python), python-docx (MIT) and selectolax (MIT, one self-contained wheel); why these and
not pdfplumber, PyMuPDF (AGPL) or trafilatura: docs/ingestion.md.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from index.errors import DocumentError

TERMINAL = re.compile(r"[.!?:;…][\"'”’»)\]]*$")
PAGE_NUMBER = re.compile(r"(?:[-–—]\s*)?\d{1,4}(?:\s*[-–—])?|[Hh]alaman \d{1,4}|[Pp]age \d{1,4}")
SHORT_LINE = 0.75  # of the page's longest line: a shorter line ending a sentence ends its paragraph
JUNK_TITLES = re.compile(r"^(?:untitled|microsoft word\b|document\d*$|judul$)", re.IGNORECASE)
BOILERPLATE = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
               "iframe", "svg", "button", "select", "dialog", "[hidden]", "[aria-hidden=true]", "[role=navigation]")
NOT_CONTENT = re.compile(r"(?:^|[\s_-])(?:nav|navbar|menu|sidebar|foot|footer|header|copyright|cookie|consent|share|social|"
                         r"breadcrumbs?|related|comments?|advert|ads|banner|popular|newsletter|subscribe)(?:$|[\s_-])",
                         re.IGNORECASE)
BLOCKS = "h1,h2,h3,h4,h5,h6,p,li,pre,blockquote,td,th,dt,dd,figcaption"
LINK_DENSE = 0.5  # a block whose text is mostly link text is navigation, not content


@dataclass(frozen=True)
class Extracted:
    """A file's text, its title when the file names one, and where each page starts (PDF)."""

    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()  # offset in `text` of each page's first character


def extract(name: str, data: bytes) -> Extracted:
    """The text of a .pdf, .docx, .html or .htm file; DocumentError naming the fix if there is none."""
    suffix = name.rsplit(".", 1)[-1].lower()
    reader = {"pdf": pdf_text, "docx": docx_text, "html": html_text, "htm": html_text}[suffix]
    out = reader(data)
    if not out.text.strip():
        raise DocumentError("has no text to extract" + (
            " (a scanned PDF has only images; run OCR first, e.g. `ocrmypdf in.pdf out.pdf`)" if suffix == "pdf" else ""))
    return out


def pdf_text(data: bytes) -> Extracted:
    """Text layer of every page, wrapped lines joined into paragraphs; title from the metadata."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # "" opens files locked against editing only
            raise DocumentError("is encrypted with a password; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = (meta.title if meta else None) or None
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(f"is not a readable PDF ({type(exc).__name__}: {exc}); re-export it from its source") from None
    parts, starts, pos = [], [], 0
    for raw in pages:
        starts.append(pos)
        body = "\n\n".join(pdf_paragraphs(raw.splitlines()))
        parts.append(body)
        pos += len(body) + 2  # the "\n\n" between pages
    text = "\n\n".join(parts)
    return Extracted(text=text, title=_clean_title(title), pages=tuple(starts))


def pdf_paragraphs(lines: list[str]) -> list[str]:
    """Join a page's hard-wrapped lines into paragraphs (a PDF keeps no paragraph marks).

    A paragraph ends at a blank line or at a short line ending a sentence; a short first line
    without closing punctuation, followed by a line that starts with a capital, is a heading and
    stands alone. Lone page numbers are dropped. A line ending in a hyphen is joined without a
    space, hyphen kept: Indonesian writes "kata-kata", so it can't be taken for a word break.
    """
    kept = [ln.strip() for ln in lines if not PAGE_NUMBER.fullmatch(ln.strip())]
    width = max((len(ln) for ln in kept), default=0)
    paragraphs, current = [], ""
    for i, line in enumerate(kept):
        if not line:
            paragraphs.append(current)
            current = ""
            continue
        current = line if not current else current + ("" if current.endswith("-") else " ") + line
        nxt = kept[i + 1] if i + 1 < len(kept) else ""
        short = len(line) < SHORT_LINE * width
        heading = current == line and not nxt[:1].islower()
        if short and (TERMINAL.search(line) or heading):
            paragraphs.append(current)
            current = ""
    paragraphs.append(current)
    return [p for p in paragraphs if p]


def docx_text(data: bytes) -> Extracted:
    """Paragraphs and table rows in document order; title from the properties or the first heading."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile, lxml and KeyError alike for a broken file
        raise DocumentError(f"is not a readable Word .docx file ({type(exc).__name__}); re-save it from Word "
                            "or LibreOffice (old .doc files must be converted to .docx)") from None
    blocks, heading = [], None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_row_text(row.cells) for row in item.rows)
            continue
        line = " ".join(item.text.split())
        style = (item.style.name if item.style is not None else "") or ""
        if line and heading is None and (style == "Title" or style.startswith("Heading")):
            heading = line
        blocks.append(line)
    title = _clean_title(document.core_properties.title) or heading
    return Extracted(text="\n\n".join(b for b in blocks if b), title=title)


def _row_text(cells) -> str:
    """A table row as one line; merged cells repeat in python-docx, so each text is kept once."""
    seen: list[str] = []
    for cell in cells:
        text = " ".join(cell.text.split())
        if text and text not in seen:
            seen.append(text)
    return " | ".join(seen)


def html_text(data: bytes) -> Extracted:
    """The main content of a web page: no scripts, navigation, sidebars or footers; title from <h1> or <title>."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_decode_html(data))
    page_title = tree.css_first("title")
    for selector in BOILERPLATE:
        for node in tree.css(selector):
            node.decompose()
    for node in tree.css("[class],[id]"):
        if NOT_CONTENT.search(f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"):
            node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.css_first("[role=main]") or tree.body
    blocks = [] if root is None else [_block_text(n) for n in root.css(BLOCKS) if not _has_block_child(n)]
    h1 = root.css_first("h1") if root is not None else None
    title = _clean_title(h1.text() if h1 is not None else None) or _clean_title(
        page_title.text() if page_title is not None else None)
    return Extracted(text="\n\n".join(b for b in blocks if b), title=title)


def _block_text(node) -> str:
    """A block's text on one line, or "" when it is mostly links (a menu or a list of other articles)."""
    text = " ".join(node.text(deep=True).split())
    linked = sum(len(" ".join(a.text(deep=True).split())) for a in node.css("a"))
    return "" if text and linked > LINK_DENSE * len(text) else text


def _has_block_child(node) -> bool:
    """Whether a block holds other blocks (a <li> with a <p>): the inner ones are taken instead."""
    return any(child.mem_id != node.mem_id for child in node.css(BLOCKS))  # css() includes the node itself


def _decode_html(data: bytes) -> str:
    """UTF-8 (the web's default) unless the page declares another charset."""
    declared = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.IGNORECASE)
    for encoding in ([declared.group(1).decode("ascii")] if declared else []) + ["utf-8"]:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _clean_title(title: str | None) -> str | None:
    """A title with whitespace collapsed; None for an empty or placeholder one ("Untitled")."""
    text = " ".join((title or "").split())
    return text if text and not JUNK_TITLES.match(text) else None
