"""Pure evaluation metrics over plain values (no I/O, no project imports).

`summarize` takes per-question result dicts with keys:
`lang`, `answerable` (bool), `gold_rank` (1-based int | None = not retrieved; leave the
key out when not measured),
`abstained` (bool), `top1_contains_gold`, `any_citation_contains_gold`,
`answer_contains_gold` (bool | None = not measured), `citations_valid` (bool | None),
`latency_ms` (float | None); optionally `top1_is_gold_sentence` and `gold_sentence_cited`
(bool | None, sets with a gold sentence); optionally `highlight` (the marked short answer or None)
and `highlight_matches_gold` (bool). When no row of a group has a bool `abstained`
(e.g. a retrieval-only system), the abstention metrics of that group are None.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

# Curly/typographic quotes and dashes map to ASCII so "Dody’s" matches "Dody's".
_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
})
_SPACES = re.compile(r"\s+")


def _is_edge_junk(ch: str) -> bool:
    """Punctuation or whitespace, which should not decide a containment match."""
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def normalize(s: str) -> str:
    """NFKC, unify quotes/dashes, lowercase, collapse whitespace, strip edge punctuation."""
    # Accents are kept on purpose: Indonesian rarely uses them, and names should match exactly.
    text = unicodedata.normalize("NFKC", s).translate(_TRANSLATE).casefold()
    text = _SPACES.sub(" ", text)
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def contains_gold(text: str | None, answers: Iterable[str]) -> bool:
    """True when the normalized text contains any normalized, non-empty gold answer."""
    if not text:
        return False
    haystack = normalize(text)
    # An answer that normalizes to "" would match everything, so it never counts.
    return any(needle and needle in haystack for needle in map(normalize, answers))


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions whose gold passage rank is <= k (None = missed); None if empty."""
    _check_k(k)
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Mean reciprocal rank, counting ranks beyond k (or None) as 0; None if empty."""
    _check_k(k)
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def abstention_scores(pairs: Sequence[tuple[bool, bool]]) -> dict:
    """Abstention as the positive class, from (answerable, abstained) pairs."""
    n_answerable = sum(1 for answerable, _ in pairs if answerable)
    n_unanswerable = len(pairs) - n_answerable
    n_abstained = sum(1 for _, abstained in pairs if abstained)
    correct = sum(1 for answerable, abstained in pairs if abstained and not answerable)
    false_abstentions = n_abstained - correct
    return {
        "precision": _ratio(correct, n_abstained),
        "recall": _ratio(correct, n_unanswerable),
        "false_abstentions": false_abstentions,
        "false_abstention_rate": _ratio(false_abstentions, n_answerable),
        "n_abstained": n_abstained,
        "n_answerable": n_answerable,
        "n_unanswerable": n_unanswerable,
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    """p-th percentile (0..100) with linear interpolation, as numpy's default; None if empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within 0..100, got {p}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def bool_rate(values: Iterable[bool | None]) -> float | None:
    """Share of True among the non-None values; None when every value is None."""
    known = [v for v in values if v is not None]
    return sum(1 for v in known if v) / len(known) if known else None


RECALL_KS = (1, 5, 10)
MRR_K = 10


def summarize_group(results: Sequence[dict]) -> dict:
    """Metrics for one group of per-question result dicts (see module docstring)."""
    answerable = [r for r in results if r.get("answerable")]
    # gold_rank None means "not retrieved" (a miss); a missing key means "not measured".
    ranks = [r.get("gold_rank") for r in answerable if "gold_rank" in r]
    out: dict = {"n": len(results), "n_answerable": len(answerable)}
    out["n_unanswerable"] = len(results) - len(answerable)
    for k in RECALL_KS:
        out[f"recall@{k}"] = recall_at_k(ranks, k)
    out[f"mrr@{MRR_K}"] = mrr_at_k(ranks, MRR_K)
    # Content accuracies only make sense where a gold answer exists.
    out["answer_sentence_acc"] = bool_rate(r.get("top1_contains_gold") for r in answerable)
    out["any_citation_acc"] = bool_rate(r.get("any_citation_contains_gold") for r in answerable)
    out["answer_contains_gold"] = bool_rate(r.get("answer_contains_gold") for r in answerable)
    out["gold_sentence_top1"] = bool_rate(r.get("top1_is_gold_sentence") for r in answerable)
    out["gold_sentence_cited"] = bool_rate(r.get("gold_sentence_cited") for r in answerable)
    measured_marks = [r for r in answerable if "highlight" in r]  # systems that can mark a short answer
    marked = [r for r in measured_marks if r["highlight"]]
    out["highlight_rate"] = len(marked) / len(measured_marks) if measured_marks else None
    out["highlight_acc"] = bool_rate(r.get("highlight_matches_gold") for r in marked) if marked else None
    abst = abstention_scores([(bool(r.get("answerable")), bool(r.get("abstained"))) for r in results])
    # A system that never decides to abstain should show "not measured", not a recall of 0.
    measured = not results or any(isinstance(r.get("abstained"), bool) for r in results)
    for key in ("precision", "recall", "false_abstentions", "false_abstention_rate"):
        name = key if key.startswith("false") else f"abstention_{key}"
        out[name] = abst[key] if measured else None
    out["citation_validity"] = bool_rate(r.get("citations_valid") for r in results)
    latencies = [r["latency_ms"] for r in results if r.get("latency_ms") is not None]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    return out


def summarize(results: Sequence[dict], group_by: str = "lang") -> dict:
    """Overall and per-group metrics: {"group_by", "overall", "groups": {value: metrics}}."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(str(r.get(group_by)), []).append(r)
    return {
        "group_by": group_by,
        "overall": summarize_group(results),
        "groups": {name: summarize_group(rows) for name, rows in sorted(groups.items())},
    }
