import json
from pathlib import Path

import pytest

from qa.language import detect_language

SEED = Path(__file__).resolve().parents[2] / "eval" / "data" / "seed" / "questions.jsonl"


@pytest.mark.parametrize("text,lang", [
    ("Siapa Dody Widodo?", "id"), ("Who is Dody Widodo?", "en"),
    ("Kapan RCID diadakan?", "id"), ("When was RCID held?", "en"),
    ("Apa itu UNIDO?", "id"), ("What is UNIDO?", "en"),
])
def test_short_questions(text, lang):
    assert detect_language(text) == lang


def test_accuracy_on_seed_set():
    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines()]
    right = sum(detect_language(r["question"]) == r["lang"] for r in rows)
    assert right == len(rows)
