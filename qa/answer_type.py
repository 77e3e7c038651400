"""What kind of short answer a question asks for, and where such answers sit in a sentence.

Wh-words are a small closed class in both languages (kapan/when, berapa/how many, siapa/who,
di mana/where), so the expected answer type is read off them; the candidate spans are found
with patterns for dates, numbers and capitalised names. Selection uses this as a prior (a
"when" question is better served by a sentence that contains a date) and the highlighter
marks the span inside the cited sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from index.lexical import tokenize
from qa.numbers import MONTHS, NUMBER_WORDS
from qa.types import Citation, Highlight

DATE, MONEY, NUMBER, PERSON, PLACE = "date", "money", "number", "person", "place"
MONEY_NOUNS = (r"anggaran|biaya|dana|harga|modal|gaji|pendapatan|investasi|nilai (?:kontrak|proyek|investasi)|"
               r"money|cost|costs|price|budget|funds?|funding|revenue|spend|spent|pay|paid|worth|invest(?:ed|ment)?")

# Checked in order: "tahun berapa" is a date question although it contains "berapa".
QUESTION_TYPES = (
    (DATE, re.compile(r"\b(kapan(?:kah)?|(?:pada )?(?:tahun|tanggal|abad) (?:berapa|ke ?berapa)(?:kah)?|"
                      r"when|what (?:year|date|day)|which (?:year|century))\b", re.I)),
    (MONEY, re.compile(rf"\b(?:berapa(?:kah)?|how much)\b.*\b(?:{MONEY_NOUNS})\b", re.I)),
    (NUMBER, re.compile(r"\b(berapa(?:kah)?|how (?:many|much|long|old|far|big|large|tall|high))\b", re.I)),
    (PERSON, re.compile(r"\b(siapa(?:kah)?|who(?:m|se)?)\b", re.I)),
    (PLACE, re.compile(r"\b(di ?mana(?:kah)?|dimana(?:kah)?|where|letak|terletak)\b", re.I)),
)

MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
ERA = r"(?:M|SM|H|BC|AD|CE|BCE|Masehi|Hijriah)"
YEAR = rf"(?:1[0-9]{{3}}|20[0-9]{{2}})(?:\s?{ERA})?"
ANY_YEAR = rf"(?:\d{{1,4}}(?:\s?{ERA})?)"  # after a month or "tahun", any year counts, ancient ones too
DATE_SPAN = re.compile(
    rf"\b(?:\d{{1,2}}\s+(?:{MONTH})\s+{ANY_YEAR}|(?:{MONTH})\s+\d{{1,2}},?\s+{ANY_YEAR}|(?:{MONTH})\s+{ANY_YEAR}|"
    rf"(?:(?<=tahun\s)|(?<=year\s)){ANY_YEAR}|\d{{1,4}}\s?{ERA}|{YEAR}(?:\s?[-–]\s?{YEAR}|-?an|s)?|abad\s+ke-?\s?\d+|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+century|(?:bulan|tahun|minggu|pekan|hari) (?:ini|lalu|depan)|"
    rf"(?:this|next|last) (?:month|year|week))\b", re.I)
NUMBER_WORD = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
NUMBER_SPAN = re.compile(
    rf"\b(?:\d+(?:[.,]\d+)*(?:\s*(?:%|persen|percent))?|(?:ke-?)?(?:{NUMBER_WORD})(?:\s+(?:{NUMBER_WORD}))*)\b", re.I)
CURRENCY = r"(?:Rp\.?|IDR|US\$|USD|\$|€|£|¥|EUR)"
MONEY_SPAN = re.compile(
    rf"(?:{CURRENCY}\s?\d+(?:[.,]\d+)*(?:\s*(?:ribu|juta|miliar|milyar|triliun|thousand|million|billion|trillion))?|"
    rf"\b\d+(?:[.,]\d+)*(?:\s*(?:ribu|juta|miliar|milyar|triliun|thousand|million|billion|trillion))?\s*"
    rf"(?:rupiah|dolar|dollars?|euros?|yen|ringgit|pounds?)\b)", re.I)
PLACE_SPAN = re.compile(r"\b(?:di|ke|dari|dekat|antara|in|at|near|from|between)\s+(?:[a-z]+\s+){0,2}?"
                        r"([A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)", re.U)
YEAR_ONLY = re.compile(rf"{YEAR}(?:\s?[-–]\s?{YEAR})?", re.I)
# Runs of capitalised words (allowing short lowercase joiners such as "bin", "van", "dari", "de").
NAME_SPAN = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:bin|binti|van|von|de|da|di|dari|of|al|el|la)\s+)?"
                       r"[A-Z][\w'’.-]*)*", re.U)


NAME_WORD = re.compile(r"\b[A-Z]\w*")
ORDINAL, ASKS_ORDINAL = re.compile(r"ke-?(?=[^\W\d_])", re.I), re.compile(r"\bke-?\s?berapa", re.I)
ACRONYM_AFTER = re.compile(r"\s*\(\s*[A-Z][A-Za-z]*[A-Z]")  # "... (RCID)": an organisation or programme
AFTER_WEIGHT = 2.0  # see _distance; on TyDi 1 gave 0.695, 2 gave 0.707, 3 gave 0.701, 4 gave 0.695

# Kinds whose answer is always a figure: a sentence without one cannot answer the question.
STRICT_KINDS = frozenset({MONEY, NUMBER})


@dataclass(frozen=True)
class Span:
    """A candidate short answer: sentence-relative offsets and its text."""

    start: int
    end: int
    text: str


def expected_type(question: str) -> str | None:
    """'date', 'money', 'number', 'person', 'place' or None (definition, yes/no, why, how...)."""
    for kind, pattern in QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return None


def candidate_spans(sentence: str, kind: str | None, question: str) -> list[Span]:
    """Spans of `kind` in `sentence` that the question does not already contain."""
    if kind is None:
        return []
    pattern = {DATE: DATE_SPAN, MONEY: MONEY_SPAN, NUMBER: NUMBER_SPAN, PLACE: PLACE_SPAN}.get(kind, NAME_SPAN)
    asked = set(_words(question))
    spans = []
    for m in pattern.finditer(sentence):
        g = m.lastindex or 0  # PLACE_SPAN's group 1 is the name after the preposition
        if kind == NUMBER and _not_a_count(sentence, m):
            continue
        if kind == DATE and _names_it(sentence[: m.start()], asked):
            continue  # "Country Programme 2016-2020" names the programme asked about; it is not its date
        words = _words(m.group(g))
        if not words or all(w in asked for w in words):
            continue  # "Kapan Jokowi lahir?" is not answered by "Jokowi"
        if kind == PERSON and m.start() == _first_word_start(sentence) and len(words) == 1:
            continue  # a lone capital at the start of a sentence is usually just the first word
        text = m.group(g).rstrip(".,;:'’-")  # "Detroit." ends a sentence; the name is "Detroit"
        spans.append(Span(m.start(g), m.start(g) + len(text), text))
    return spans


def type_match(sentence: str, kind: str | None, question: str) -> bool:
    """Whether `sentence` holds an answer of the expected kind (False when no kind is expected)."""
    return bool(candidate_spans(sentence, kind, question))


def highlight(citation: Citation, kind: str | None, question: str,
              common_words: frozenset[str] = frozenset()) -> Highlight | None:
    """The short answer of `kind` inside `citation`, with document offsets (None when there is none).

    Of several candidates the one nearest a question word wins, "lahir pada 9 Juni 1075" over
    a later "meninggal 4 Desember 1137" for "Kapan X lahir?" (TyDi: 0.665 -> 0.707 of marked
    spans match the gold answer); then the longest: "17 April 2007" over "2007". For "who", a
    name must not be a title (its first word among `common_words`, the words the corpus writes in
    lower case), an acronym or a body named before its acronym, and full names come first (TyDi
    person questions: 24 of 43 marks right -> 30 of 41; 31 with the topic-name rule of _anchors).
    """
    asked = set(_words(question))
    spans = [s for s in candidate_spans(citation.text, kind, question)
             if _may_answer(s, kind, question, asked, citation.text, common_words)]
    if not spans:
        return None
    anchors = _anchors(citation.text, question)
    # for "who", a full name anywhere beats a one-word span, more often a place, people or body
    # ("Indonesia", "Kemenperin"); then the nearest; min keeps reading order
    best = min(spans, key=lambda s: (_lone_name(s, kind), _distance(s, anchors), -(s.end - s.start)))
    return Highlight(n=citation.n, doc_id=citation.doc_id, kind=kind, text=best.text,
                     start=citation.start + best.start, end=citation.start + best.end)


def _may_answer(span: Span, kind: str, question: str, asked: set[str], sentence: str,
                common_words: frozenset[str]) -> bool:
    """Whether a candidate can be the short answer, not part of what the question (words `asked`) is about."""
    if kind == PERSON:  # a name sharing a word with the question is the asker's topic, not its answer
        return not asked.intersection(_words(span.text)) and _person_like(span, sentence, common_words)
    if kind == NUMBER:  # "kedua" (second) answers "ke berapa", not "berapa" (TyDi: "Berapa lama ...?")
        return not ORDINAL.match(span.text) or bool(ASKS_ORDINAL.search(question))
    return True  # a place may share the question's name: "Pulau Malé" for "Di mana letak kota Malé?"


def _person_like(span: Span, sentence: str, common_words: frozenset[str]) -> bool:
    """Not a title or sentence opener ("Presiden ...", "Para"), an acronym ("UNIDO") or a body it abbreviates."""
    if _words(span.text)[0] in common_words or (len(span.text) > 1 and span.text.isupper()):
        return False
    return not ACRONYM_AFTER.match(sentence, span.end)  # "Akses Industri Internasional (KPAII)"


def _lone_name(span: Span, kind: str) -> bool:
    """A one-word candidate answer to a "who" question."""
    return kind == PERSON and len(_words(span.text)) == 1


def _anchors(sentence: str, question: str) -> list[tuple[int, int]]:
    """(start, end) of each word of `sentence` that the question also uses (stop words aside).

    Indonesian affixes wrap a word without changing it ("luas" in "seluas", "berat" in
    "beratnya"), so a sentence word that starts or ends with a question word of 4+ letters
    counts too (TyDi number questions: 25 -> 28 of 30 marks right). The question's capitalised
    words name its topic; the answer completes its other words ("lahir di ...", "didirikan
    oleh ..."), so names anchor only when nothing else does (TyDi: 2 more marks right).
    """
    words = set(tokenize(question))
    names = words & {w.lower() for w in NAME_WORD.findall(question[1:])}  # not the first word: grammar
    return _occurrences(sentence, words - names) or _occurrences(sentence, names)


def _occurrences(sentence: str, words: set[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of `sentence` that are `words`, or wrap one of 4+ letters in affixes."""
    stems = tuple(w for w in words if len(w) >= 4)
    return [m.span() for m in re.finditer(r"\w+", sentence)
            if (w := m.group(0).lower()) in words or w.startswith(stems) or w.endswith(stems)]


def _distance(span: Span, anchors: list[tuple[int, int]]) -> float:
    """Characters from the nearest question word outside `span`; twice as far when the span precedes it.

    An answer tends to follow the word it completes ("lahir pada ...", "istrinya, ..."), so a span
    after a question word is preferred to one the same distance before it.
    """
    gaps = [span.start - end if end <= span.start else AFTER_WEIGHT * (start - span.end)
            for start, end in anchors if end <= span.start or start >= span.end]
    return min(gaps, default=float("inf"))


def _not_a_count(sentence: str, m: re.Match) -> bool:
    """Years, versions and numbers inside names ("COVID-19", "Windows 10", "4.0") don't answer "how many"."""
    text, before = m.group(0), sentence[: m.start()]
    return bool(YEAR_ONLY.fullmatch(text) or re.fullmatch(r"\d+\.0", text)
                or re.search(r"\w-$", before) or re.search(r"\b[A-Z]\w*\s$", before))


def _names_it(before: str, asked: set[str]) -> bool:
    """The text right before a span ends with a capitalised word from the question."""
    m = re.search(r"\b([A-Z][\w-]*)\s$", before)
    return bool(m) and m.group(1).lower() in asked


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _first_word_start(sentence: str) -> int:
    m = re.search(r"\w", sentence)
    return m.start() if m else 0
