"""Read the numbers and months in Indonesian or English text as values (pure functions).

`delapan`, `eight` and `8` are one value, `1.000` (Indonesian grouping) and `1,000` (English)
are both a thousand, and `1,5 juta` is 1.5 million, so an answer can be checked against
sources written in another language or format.
"""
from __future__ import annotations

import re

MONTHS = {name: i for i, names in enumerate((
    ("januari", "january"), ("februari", "pebruari", "february"), ("maret", "march"), ("april",),
    ("mei", "may"), ("juni", "june"), ("juli", "july"), ("agustus", "august"), ("september",),
    ("oktober", "october"), ("november", "nopember"), ("desember", "december"),
), start=1) for name in names}

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "nol": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11,
}
SCALES = {
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "ribu": 10**3, "juta": 10**6, "miliar": 10**9, "milyar": 10**9, "triliun": 10**12,
    "seribu": 10**3, "sejuta": 10**6, "semiliar": 10**9,
}
MULTIPLIERS = {"puluh": 10, "ratus": 100, "hundred": 100, "seratus": 100}
HUNDREDS = {"hundred", "thousand", "million", "billion", "trillion"}
NUMBER_WORDS = set(UNITS) | set(SCALES) | set(MULTIPLIERS) | {"belas"}

SCALE_WORD = "|".join(sorted((w for w in SCALES if not w.startswith("se")), key=len, reverse=True))
DIGITS = re.compile(rf"(\d+(?:[.,]\d+)*)(?:\s*({SCALE_WORD})\b)?", re.IGNORECASE)
LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)


def digit_values(token: str) -> set[float]:
    """Readings of a digit string: '1.000' -> {1000, 1.0}; '2,5' -> {2.5}; '4.0' -> {4.0}."""
    seps = re.findall(r"[.,]", token)
    if not seps:
        return {float(int(token))}
    groups = re.split(r"[.,]", token)
    values: set[float] = set()
    if len(set(seps)) == 1 and len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]):
        values.add(float("".join(groups)))  # thousands grouping
    last = seps[-1]
    if all(s != last for s in seps[:-1]):  # the last separator as the decimal point
        head, tail = token.rsplit(last, 1)
        values.add(float(re.sub(r"[.,]", "", head) + "." + tail))
    return values


def words_value(words: list[str]) -> int:
    """Value of a run of number words: ['dua', 'puluh', 'lima'] -> 25; ['eight'] -> 8."""
    total = group = unit = 0
    for w in words:
        if w in UNITS:
            unit += UNITS[w]
        elif w == "belas":
            unit += 10  # dua belas = 12
        elif w in MULTIPLIERS:
            group += (unit or 1) * MULTIPLIERS[w]
            unit = 0
        elif w in SCALES:
            total += (group + unit or 1) * SCALES[w]
            group = unit = 0
    return total + group + unit


def _word_runs(text: str) -> list[tuple[str, list[str]]]:
    """Maximal runs of number words ('and' allowed inside a run: 'one hundred and five')."""
    runs: list[tuple[str, list[str]]] = []
    current: list[str] = []
    for word in [w.lower() for w in LETTERS.findall(text)] + [""]:
        if word in NUMBER_WORDS or (word == "and" and current and current[-1] in HUNDREDS):
            current.append(word)
            continue
        if current and current[-1] == "and":
            current.pop()
        if current:
            runs.append((" ".join(current), [w for w in current if w != "and"]))
        current = []
    return runs


def number_mentions(text: str) -> list[tuple[str, frozenset[float]]]:
    """Each number in `text` with the values it may stand for.

    Lone words worth 0 or 1 are skipped: 'one of', 'salah satu' are grammar, not facts.
    """
    found = []
    for m in DIGITS.finditer(text):
        scale = SCALES[m.group(2).lower()] if m.group(2) else 1
        found.append((m.group(0), frozenset(round(v * scale, 6) for v in digit_values(m.group(1)))))
    for mention, words in _word_runs(DIGITS.sub(" ", text)):  # '1,5 juta' is read once
        value = words_value(words)
        if len(words) > 1 or value > 1:
            found.append((mention, frozenset({float(value)})))
    return found


def known_numbers(text: str) -> set[float]:
    """Every value a number in source text may stand for (a scaled '1,5 juta' also yields 1.5)."""
    values = {v for _, vs in number_mentions(text) for v in vs}
    values |= {round(v, 6) for m in DIGITS.finditer(text) for v in digit_values(m.group(1))}
    values |= {float(UNITS[w]) for w in (x.lower() for x in LETTERS.findall(text)) if w in UNITS}
    return values


def month_numbers(text: str) -> set[int]:
    """Months named in `text`; capitalised only, so the English verb 'may' is no month."""
    return {MONTHS[w.lower()] for w in LETTERS.findall(text) if w[0].isupper() and w.lower() in MONTHS}
