"""Decide whether a question is Indonesian or English."""
from __future__ import annotations

from functools import lru_cache

LANGUAGES = ("id", "en")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    # Malay shares most words with Indonesian; keeping it as a label avoids forcing it to English
    ident.set_languages(list(LANGUAGES) + ["ms"])
    return ident


def detect_language(text: str) -> str:
    """'id' or 'en' for a question (Malay counts as Indonesian; ties go to Indonesian)."""
    lang, _ = _identifier().classify(text)
    return "en" if lang == "en" else "id"
