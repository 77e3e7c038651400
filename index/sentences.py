"""Split Indonesian/English text into sentence spans with exact character offsets (no NLP deps)."""
from __future__ import annotations

import re

from index.types import Span

# Abbreviations that introduce what follows (titles, labels, Latin connectives): a period after
# one of these never ends a sentence inside a paragraph. Matched as written (the token before
# the period, e.g. "Dr" for "Dr."); all-lowercase entries also match any capitalisation.
PREFIX_ABBREVIATIONS = frozenset({
    # Indonesian titles, forms of address and labels
    "Bp", "Bpk", "Dr", "Dra", "Drs", "H", "Hj", "Ir", "K.H", "KH", "Moh", "Muh", "Nn", "Ny",
    "Pdt", "Prof", "Sdr", "Sdri", "Tn", "Ust", "Yth", "Brigjen", "Jend", "Kapt", "Kol",
    "Letjen", "Mayjen", "Gg", "Jl", "Jln", "Kab", "Kec", "Kel", "No", "Gbr", "Tel", "Telp",
    "Rp", "hlm", "a.n", "u.p", "s.d", "d.a", "bdk", "lih", "skt",
    # English titles and labels
    "Mr", "Mrs", "Ms", "Mt", "St", "Fig", "Vol", "U.S", "ca", "cf", "e.g", "i.e", "viz", "vs",
})

# Abbreviations that usually trail a phrase (lists, company forms, degrees): before a lowercase
# word they never end a sentence, before a capitalised word they do, unless that word is
# itself one of these ("S.H. M.H."): "dll. Kemudian" is far more often two sentences than one.
SUFFIX_ABBREVIATIONS = frozenset({
    "dkk", "dll", "dsb", "dst", "etc", "Tbk", "Co", "Corp", "Inc", "Jr", "Ltd", "Sr",
    "B.A", "B.Sc", "Lc", "M.A", "M.H", "M.Hum", "M.Kom", "M.M", "M.Pd", "M.Sc", "M.Si", "M.T",
    "Ph.D", "S.Ag", "S.E", "S.H", "S.IP", "S.Kom", "S.Pd", "S.Psi", "S.Si", "S.Sos", "S.T",
})

_PREFIX_ANY_CASE = frozenset(a for a in PREFIX_ABBREVIATIONS if a.islower())
_SUFFIX_ANY_CASE = frozenset(a for a in SUFFIX_ABBREVIATIONS if a.islower())

OPENERS = "\"'“‘„‚«([{¡¿"
_QUOTE_OPENERS = "\"'“‘„‚«"
_EMPHASIS = "*_"  # Markdown emphasis may sit between a period and the next sentence's first letter
_PAIRS = {")": "(", "]": "[", "}": "{"}
_MAX_PAIR = 200  # a stray "(" must not swallow the splits of a whole paragraph

_BREAK = r"\r\n|\r|\n"
_LINE_BREAK = re.compile(_BREAK)
_BLANK_LINE = re.compile(rf"(?:{_BREAK})[^\S\r\n]*(?:{_BREAK})")
_WS_RUN = re.compile(r"\s+")
_TERMINAL = re.compile(r"[.!?…]+[\"'”’»)\]}]*")
_BULLET = re.compile(r"[^\S\r\n]*(?:[-*•‣◦▪]|\d{1,3}[.)]|[A-Za-z]\))(?=\s)")
_HEADING = re.compile(r"[^\S\r\n]*#{1,6}(?:\s|$)")
_MARKER = re.compile(r"[(\[][^\s()\[\]]{1,15}[)\]]")  # "(*)", "(ant)", "[1]" closing a paragraph
_INITIALS = re.compile(r"(?:[A-Z]\.)+[A-Z]")  # "J.F", "A.S": dotted capital initials


def split_sentences(text: str) -> list[Span]:
    """Split text into whitespace-trimmed sentence spans with 0-based paragraph numbers."""
    spans: list[Span] = []
    number = 0
    for start, end in _paragraphs(text):
        pieces = _paragraph_pieces(text, start, end)
        if len(pieces) == 1 and _is_marker(text, *pieces[0][:2]) and spans:
            # a paragraph that is only "(*)" or "***" belongs to the sentence before it
            last = spans[-1]
            spans[-1] = Span(last.start, pieces[0][1], text[last.start : pieces[0][1]], last.paragraph)
            continue
        spans.extend(Span(s, e, text[s:e], number) for s, e, _ in pieces)
        number += 1
    return spans


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: blank lines separate them, or every line break if none."""
    min_breaks = 2 if _BLANK_LINE.search(text) else 1
    bounds, start = [], 0
    for run in _WS_RUN.finditer(text):
        if len(_LINE_BREAK.findall(run.group())) >= min_breaks:
            bounds.append((start, run.start()))
            start = run.end()
    bounds.append((start, len(text)))
    return [(s, e) for s, e in bounds if text[s:e].strip()]


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int, int, bool]]:
    """(start, body start, end, is heading) of the line groups that never share a sentence."""
    lines, pos = [], start
    for brk in _LINE_BREAK.finditer(text, start, end):
        lines.append((pos, brk.start()))
        pos = brk.end()
    lines.append((pos, end))
    blocks: list[list] = []
    for line_start, line_end in lines:
        heading = _HEADING.match(text, line_start, line_end)
        bullet = _BULLET.match(text, line_start, line_end)
        if not blocks or heading or bullet or blocks[-1][3]:
            body = bullet.end() if bullet else line_start
            blocks.append([line_start, body, line_end, bool(heading)])
        else:
            blocks[-1][2] = line_end
    return [tuple(b) for b in blocks]


def _paragraph_pieces(text: str, start: int, end: int) -> list[tuple[int, int, int]]:
    """Trimmed (start, end, block) sentence pieces of one paragraph, markers merged in."""
    pieces = []
    for block, (b_start, body, b_end, heading) in enumerate(_blocks(text, start, end)):
        cuts = [] if heading else _boundaries(text, body, b_end)
        for s, e in zip([b_start, *cuts], [*cuts, b_end]):
            s, e = _trim(text, s, e)
            if s < e:
                pieces.append((s, e, block))
    return _absorb_markers(text, pieces)


def _absorb_markers(text: str, pieces: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Join pieces without letters or digits to a neighbour, and a closing "(*)" to the last one."""
    out: list[tuple[int, int, int]] = []
    for s, e, block in pieces:
        if out and out[-1][2] == block and (_is_junk(text, s, e) or _is_junk(text, *out[-1][:2])):
            out[-1] = (out[-1][0], e, block)
        else:
            out.append((s, e, block))
    if len(out) >= 2 and out[-2][2] == out[-1][2] and _is_marker(text, *out[-1][:2]):
        out[-2:] = [(out[-2][0], out[-1][1], out[-1][2])]
    return out


def _boundaries(text: str, start: int, end: int) -> list[int]:
    """Offsets inside text[start:end] right after each sentence-final punctuation cluster."""
    pairs = _bracket_pairs(text, start, end)
    cuts = []
    for m in _TERMINAL.finditer(text, start, end):
        if _ends_sentence(text, m, start, end, pairs):
            cuts.append(m.end())
    return cuts


def _ends_sentence(text: str, m: re.Match, start: int, end: int, pairs: list) -> bool:
    """Whether the punctuation cluster m ends a sentence, judged by its token and what follows."""
    after = m.end()
    nxt = after
    while nxt < end and text[nxt].isspace():
        nxt += 1
    if nxt == after or nxt >= end or any(o < after <= c for o, c in pairs):
        return False  # "4.0", "v2.1.3", "e.g.," or inside "(lihat Gbr. 2)"; block end cuts anyway
    while nxt < end - 1 and text[nxt] in _EMPHASIS:
        nxt += 1
    first = text[nxt]
    if m.group() == ".":
        kind = _abbreviation_kind(_token_before(text, start, m.start()))
        if kind == "prefix":
            return False
        if kind == "suffix":
            return (first in _QUOTE_OPENERS or _is_capital(first)) and not _suffix_follows(text, nxt, end)
    return first in OPENERS or first.isdigit() or _is_capital(first)


def _is_capital(ch: str) -> bool:
    """Uppercase, titlecase or caseless letters (CJK, Arabic...) may start a sentence."""
    return ch.isalpha() and not ch.islower()


def _token_before(text: str, start: int, pos: int) -> str:
    """The word ending at pos, without leading quotes, brackets or emphasis."""
    i = pos
    while i > start and not text[i - 1].isspace():
        i -= 1
    return text[i:pos].lstrip(OPENERS + _EMPHASIS)


def _abbreviation_kind(token: str) -> str | None:
    """'prefix', 'suffix' or None for the word in front of a single period."""
    if token in SUFFIX_ABBREVIATIONS or token.lower() in _SUFFIX_ANY_CASE:
        return "suffix"
    if token in PREFIX_ABBREVIATIONS or token.lower() in _PREFIX_ANY_CASE:
        return "prefix"
    if (len(token) == 1 and token.isupper()) or _INITIALS.fullmatch(token):
        return "prefix"  # initials: "S. Nishijima", "J. F. Kennedy", "J.F. Kennedy"
    return None


def _suffix_follows(text: str, pos: int, end: int) -> bool:
    """Whether the word at pos is itself a trailing abbreviation, as in "S.H. M.H."."""
    i = pos
    while i < end and not text[i].isspace():
        i += 1
    word = text[pos:i].rstrip(",;:")
    return word.endswith(".") and _abbreviation_kind(word[:-1]) == "suffix"


def _bracket_pairs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(open, close) offsets of matched, reasonably short bracket pairs in text[start:end]."""
    stacks: dict[str, list[int]] = {o: [] for o in _PAIRS.values()}
    pairs = []
    for i in range(start, end):
        ch = text[i]
        if ch in stacks:
            stacks[ch].append(i)
        elif ch in _PAIRS and stacks[_PAIRS[ch]]:
            o = stacks[_PAIRS[ch]].pop()
            if i - o <= _MAX_PAIR:
                pairs.append((o, i))
    return pairs


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink [start, end) past surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_junk(text: str, start: int, end: int) -> bool:
    """No letter or digit: "(*)", "***", "..." cannot stand as a sentence."""
    return not any(ch.isalnum() for ch in text[start:end])


def _is_marker(text: str, start: int, end: int) -> bool:
    """A closing marker such as "(*)", "(ant)" or "[1]", or any piece without letters or digits."""
    return _is_junk(text, start, end) or _MARKER.fullmatch(text, start, end) is not None
