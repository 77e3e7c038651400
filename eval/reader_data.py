"""Sentence-level training pairs for the reader, built from extractive QA sets (../shared/train-data).

A question's answer-bearing sentence is a positive; its neighbours and the other sentence that
shares most words with the question are hard negatives; for an unanswerable question the
sentences that share most words with it (and one more at random) are negatives. Only train sets
go in: `build_pairs` refuses a folder under eval-data.
"""
from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from index.sentences import split_sentences
from qa.reader import passage_text

TRAIN_SETS = ("idk-mrc-train", "tydiqa-en-train", "trans-squad-id")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Pair:
    """One (question, sentence) example; group ties the pairs of one question together."""

    question: str
    text: str
    label: int
    lang: str
    group: str


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2}


def _overlap_order(question: str, sentences: list[str], skip: set[int]) -> list[int]:
    """Sentence indexes by the number of question words they share, most first."""
    q = _words(question)
    scored = [(len(q & _words(s)), i) for i, s in enumerate(sentences) if i not in skip]
    return [i for _, i in sorted(scored, key=lambda t: (-t[0], t[1]))]


def _answer_sentence(spans, start: int) -> int | None:
    for i, s in enumerate(spans):
        if s.start <= start < s.end:
            return i
    return None


def question_pairs(q: dict, title: str, spans, rng: random.Random, max_negatives: int = 3) -> list[Pair]:
    """The pairs for one question over its passage's sentence spans."""
    texts = [s.text for s in spans]
    make = lambda i, label: Pair(q["question"].strip(), passage_text(title, texts[i]), label, q["lang"], q["id"])  # noqa: E731
    if q["answers"]:
        gold = {_answer_sentence(spans, start) for start in q["answer_starts"]} - {None}
        if not gold:
            return []
        first = min(gold)
        near = [i for i in (first - 1, max(gold) + 1) if 0 <= i < len(spans) and i not in gold]
        # the most word-sharing other sentences: one at the default 3 negatives, more when more are asked
        far = [i for i in _overlap_order(q["question"], texts, gold | set(near))][: max(1, max_negatives - 2)]
        return [make(first, 1)] + [make(i, 0) for i in (near + far)[:max_negatives]]
    order = _overlap_order(q["question"], texts, set())
    chosen = order[: max_negatives - 1]
    rest = [i for i in range(len(spans)) if i not in chosen]
    if rest:
        chosen.append(rng.choice(rest))
    return [make(i, 0) for i in chosen]


def build_pairs(folder: Path, *, seed: int = 0, limit: int | None = None, max_negatives: int = 3) -> list[Pair]:
    """All pairs of one train-data folder (questions.jsonl + passages.jsonl), shuffled by seed."""
    if "eval-data" in folder.resolve().parts:
        raise ValueError(f"{folder} is an evaluation set; the reader trains on ../shared/train-data only")
    passages = {p["id"]: p for p in _jsonl(folder / "passages.jsonl")}
    by_passage: dict[str, list[dict]] = defaultdict(list)
    for q in _jsonl(folder / "questions.jsonl"):
        by_passage[q["passage_id"]].append(q)
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for pid in sorted(by_passage):
        p = passages[pid]
        spans = split_sentences(p["text"])
        for q in by_passage[pid]:
            pairs.extend(question_pairs(q, p.get("title") or "", spans, rng, max_negatives))
    groups = sorted({p.group for p in pairs})
    rng.shuffle(groups)
    if limit is not None:
        keep = set(groups[:limit])
        pairs = [p for p in pairs if p.group in keep]
    return pairs
