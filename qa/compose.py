"""Wrap quoted evidence in a short phrase in the question's language."""
from __future__ import annotations

from qa.types import Citation

PHRASES = {
    "id": {
        "lead": "Menurut dokumen: ",
        "also": "Lihat juga {refs}.",
        "abstain": "Maaf, dokumen yang tersedia tidak memuat jawaban untuk pertanyaan ini.",
    },
    "en": {
        "lead": "According to the documents (quoted in Indonesian): ",
        "also": "See also {refs}.",
        "abstain": "Sorry, the documents don't contain an answer to this question.",
    },
}


def refs(citations: tuple[Citation, ...]) -> str:
    """'[2], [3]' for a list of citations."""
    return ", ".join(f"[{c.n}]" for c in citations)


def compose(citations: tuple[Citation, ...], language: str, *, abstained: bool) -> str:
    """The answer text: the best sentence verbatim with [1], pointers to the rest."""
    words = PHRASES.get(language, PHRASES["id"])
    if abstained:
        return words["abstain"]
    first, rest = citations[0], citations[1:]
    text = f"{words['lead']}{first.text} [{first.n}]"
    if rest:
        text += " " + words["also"].format(refs=refs(rest))
    return text
