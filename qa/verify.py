"""Check a generated answer against the sentences it cites (pure functions, no I/O).

A generated answer is shown only when every [n] points at a provided sentence, it cites at
least one, and every number, month and proper name in it also occurs in the cited sentences.
Small models invent facts; these checks are the guard, so they err on the strict side.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Sequence

from qa.numbers import MONTHS, known_numbers, month_numbers, number_mentions

MARKER = re.compile(r"\[(\d{1,3})\]")
POSSESSIVE = re.compile(r"['’]s$")
MARKER_LIST = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})+)\]")
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)  # letters only: 'Rp1,5' -> 'Rp'
SENTENCE_END = re.compile(r"[.!?:;]\s+|\n+")

# Capitalised for grammar, not names: sentence starters and common function words in both languages.
FUNCTION_WORDS = frozenset("""
a an the this that these those it its in on at of for from to by with and or but as is are was were
be been has have had not no yes according based however also both each which who what when where why
how there their they he she we you i if so than then after before during about into per
di ke dari yang dan atau ini itu pada untuk dengan dalam oleh adalah ialah yaitu yakni juga tidak
bukan ya menurut berdasarkan namun selain sebagai para sang tersebut mereka ia dia kami kita anda
saya apa siapa kapan mana mengapa bagaimana berapa karena jika setelah sebelum selama tentang
""".split())

# English institution words whose Indonesian counterparts share no spelling: stems to look for.
TRANSLATIONS = {
    "ministry": ("kementerian", "kemen", "menteri"), "minister": ("menteri",),
    "government": ("pemerintah",), "agency": ("badan",), "state": ("negara",), "country": ("negara",),
    "countries": ("negara",), "nations": ("bangsa",), "united": ("perserikatan", "bersatu"),
    "regional": ("kawasan", "wilayah", "regional"), "region": ("kawasan", "wilayah"),
    "development": ("pembangunan", "pengembangan"), "cooperation": ("kerja sama", "kerjasama"),
    "province": ("provinsi",), "regency": ("kabupaten",), "city": ("kota",), "island": ("pulau",),
    "south": ("selatan",), "north": ("utara",), "east": ("timur",), "west": ("barat",),
    "central": ("tengah",), "ministries": ("kementerian",),
}


@dataclass(frozen=True)
class Verdict:
    """Outcome of verification: ok, or the first failed check and what failed it."""

    ok: bool
    reason: str | None = None
    detail: str = ""


def fold(text: str) -> str:
    """Casefold and strip accents, so 'Café' matches 'cafe'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def cited(text: str) -> list[int]:
    """The citation numbers in `text`, in order of appearance."""
    return [int(m) for m in MARKER.findall(text)]


def check_markers(text: str, k: int) -> Verdict:
    """At least one [n], and every n within 1..k."""
    numbers = cited(text)
    if not numbers:
        return Verdict(False, "no_citation", "the answer cites no source sentence")
    bad = sorted({n for n in numbers if not 1 <= n <= k})
    if bad:
        return Verdict(False, "citation_out_of_range", f"cites {bad}, but only [1]..[{k}] were given")
    return Verdict(True)


def normalize_markers(text: str) -> str:
    """'[1, 3]' -> '[1][3]': models write lists; the checks and the page read single markers."""
    return MARKER_LIST.sub(lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,;]\s*", m.group(1))), text)


def strip_markers(text: str) -> str:
    """`text` without its [n] markers (their digits are no facts)."""
    return MARKER.sub(" ", text)


def proper_names(text: str) -> list[str]:
    """Capitalised words that read as names: acronyms anywhere, other capitals inside a sentence."""
    names: list[str] = []
    for sentence in SENTENCE_END.split(strip_markers(text)):
        words = WORD.findall(sentence)
        for i, word in enumerate(words):
            if len(word) < 2 or not word[0].isupper() or fold(word) in FUNCTION_WORDS or fold(word) in MONTHS:
                continue
            is_acronym = sum(ch.isupper() for ch in word) >= 2
            # a capital opening a sentence is grammar, unless the next word is capitalised too (a full name)
            if i > 0 or is_acronym or (len(words) > 1 and words[1][:1].isupper()):
                names.append(word)
    return names


def _spelling(word: str) -> str:
    """Collapse spelling differences between English and Indonesian cognates (c/k, y/i, ph/f)."""
    word = fold(word).replace("ph", "f").replace("qu", "kw").replace("x", "ks")
    return word.replace("c", "k").replace("y", "i")


def name_supported(name: str, source_words: set[str], source_text: str) -> bool:
    """A name occurs in the sources verbatim, as a cognate, or through a known translation."""
    key = POSSESSIVE.sub("", fold(name))  # "UNIDO's" is UNIDO
    if key in source_words or (len(key) >= 4 and key in source_text):
        return True
    if any(stem in source_text for stem in TRANSLATIONS.get(key, ())):
        return True
    if len(key) < 4:
        return False
    spelled = _spelling(key)
    return any(len(w) >= 4 and SequenceMatcher(None, spelled, _spelling(w)).ratio() >= 0.8
               for w in source_words)


def check_facts(text: str, sources: Sequence[str]) -> Verdict:
    """Every number, month and proper name in `text` occurs in `sources`."""
    source, text = " ".join(sources), strip_markers(text)
    numbers = known_numbers(source)
    for mention, values in number_mentions(text):
        if not values & numbers:
            return Verdict(False, "unsupported_number", f"{mention!r} is not in the cited sentences")
    missing_months = month_numbers(text) - month_numbers(source)
    if missing_months:
        return Verdict(False, "unsupported_date", f"month {sorted(missing_months)} is not in the cited sentences")
    folded = fold(source)
    source_words = {fold(w) for w in WORD.findall(source)}
    for name in proper_names(text):
        if not name_supported(name, source_words, folded):
            return Verdict(False, "unsupported_name", f"{name!r} is not in the cited sentences")
    return Verdict(True)


def recite(text: str, sentences: Sequence[str]) -> str:
    """Re-point a one-source answer whose facts are in other provided sentences to those.

    Small models tend to cite [1] whatever they used. When an answer cites one sentence that
    lacks a fact, the first sentence holding every fact replaces the citation, or else the first
    one that holds the rest alongside it is added (`[1][2]`). The facts are then checked against
    what the answer cites, as always; when nothing fits, `text` is returned unchanged.
    """
    numbers = set(cited(text))
    if len(numbers) != 1 or not check_markers(text, len(sentences)).ok:
        return text
    n = numbers.pop()
    if check_facts(text, [sentences[n - 1]]).ok:
        return text
    for m, sentence in enumerate(sentences, start=1):
        if check_facts(text, [sentence]).ok:
            return MARKER.sub(f"[{m}]", text)
    for m, sentence in enumerate(sentences, start=1):
        if m != n and check_facts(text, [sentences[n - 1], sentence]).ok:
            return MARKER.sub("".join(f"[{i}]" for i in sorted((n, m))), text)
    return text


def own_words(text: str, sources: Sequence[str]) -> str:
    """The answer's words that are not copied from `sources`: the language the model itself wrote.

    An English answer quotes Indonesian names and terms, an Indonesian one may quote English
    phrases from the document; only the rest says which language the answer is in.
    """
    copied = {fold(w) for w in WORD.findall(" ".join(sources))}
    return " ".join(w for w in WORD.findall(strip_markers(text)) if fold(w) not in copied)


def verify(text: str, sentences: Sequence[str]) -> Verdict:
    """All checks on a generated answer; `sentences[i]` is the source numbered [i+1]."""
    if not strip_markers(text).strip():
        return Verdict(False, "empty_answer", "the model returned no text")
    verdict = check_markers(text, len(sentences))
    if not verdict.ok:
        return verdict
    cited_sentences = [sentences[n - 1] for n in sorted(set(cited(text)))]
    return check_facts(text, cited_sentences)
