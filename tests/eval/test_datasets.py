"""Loading evaluation datasets: tiny folders in tmp_path, plus the real shipped sets."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import (
    EXTRACTIVE,
    MULTIPLE_CHOICE,
    EvalPassage,
    load_dataset,
    passages_only,
    with_distractors,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path("/work/shared/eval-data")

PASSAGES = [
    {"id": "p1", "lang": "id", "title": "Satu", "text": "Jakarta adalah ibu kota Indonesia."},
    {"id": "p2", "lang": "id", "title": None, "text": "Bandung terletak di Jawa Barat."},
]
QUESTIONS = [
    {"id": "q1", "lang": "id", "question": "Apa ibu kota Indonesia?", "passage_id": "p1",
     "answers": ["Jakarta"], "gold_sentence": 0,
     "gold_sentence_text": "Jakarta adalah ibu kota Indonesia."},
    {"id": "q2", "lang": "en", "question": "Who is the mayor?", "passage_id": "p2",
     "answers": [], "gold_sentence": None, "gold_sentence_text": None},
]


def write_jsonl(path: Path, rows: list) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def make_dataset(tmp_path: Path, passages=PASSAGES, questions=QUESTIONS, name="tiny") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    write_jsonl(folder / "passages.jsonl", passages)
    write_jsonl(folder / "questions.jsonl", questions)
    return folder


def test_load_tiny_extractive(tmp_path):
    ds = load_dataset(make_dataset(tmp_path))
    assert ds.name == "tiny" and ds.kind == EXTRACTIVE
    assert [p.id for p in ds.passages] == ["p1", "p2"]
    assert ds.passages[1].title is None
    q1, q2 = ds.questions
    assert q1.answers == ("Jakarta",) and q1.answerable and q1.choices is None
    assert q1.gold_sentence_text == "Jakarta adalah ibu kota Indonesia."
    assert q2.answers == () and not q2.answerable and q2.gold_sentence_text is None


def test_load_multiple_choice(tmp_path):
    questions = [{"id": "m1", "lang": "en", "question": "Where?", "passage_id": "p1",
                  "answers": ["Jakarta"], "choices": ["Bandung", "Jakarta"],
                  "correct_choice_index": 1, "parallel_question_id": "m1-id"}]
    ds = load_dataset(make_dataset(tmp_path, questions=questions))
    assert ds.kind == MULTIPLE_CHOICE
    assert ds.questions[0].choices == ("Bandung", "Jakarta")
    assert ds.questions[0].parallel_question_id == "m1-id"


def test_bad_json_names_file_and_line(tmp_path):
    folder = make_dataset(tmp_path)
    good = (folder / "questions.jsonl").read_text(encoding="utf-8")
    (folder / "questions.jsonl").write_text(good + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"questions\.jsonl:4: invalid JSON"):
        load_dataset(folder)


def test_missing_field_names_file_line_and_field(tmp_path):
    broken = [dict(QUESTIONS[0]), {k: v for k, v in QUESTIONS[1].items() if k != "passage_id"}]
    folder = make_dataset(tmp_path, questions=broken)
    with pytest.raises(ValueError, match=r"questions\.jsonl:2: missing field 'passage_id'"):
        load_dataset(folder)


def test_wrong_types_rejected(tmp_path):
    bad = [dict(QUESTIONS[0], answers="Jakarta")]
    with pytest.raises(ValueError, match=r"questions\.jsonl:1: field 'answers' has the wrong type"):
        load_dataset(make_dataset(tmp_path, questions=bad))
    bad = [dict(PASSAGES[0], text=""), PASSAGES[1]]
    with pytest.raises(ValueError, match=r"passages\.jsonl:1: field 'text' is empty"):
        load_dataset(make_dataset(tmp_path, passages=bad, name="t2"))
    with pytest.raises(ValueError, match=r"passages\.jsonl:1: expected a JSON object"):
        load_dataset(make_dataset(tmp_path, passages=[["p1"]], name="t3"))


def test_missing_file_and_folder(tmp_path):
    folder = make_dataset(tmp_path)
    (folder / "questions.jsonl").unlink()
    with pytest.raises(ValueError, match=r"questions\.jsonl: file not found"):
        load_dataset(folder)
    with pytest.raises(ValueError, match="dataset folder not found"):
        load_dataset(tmp_path / "nope")


def test_unknown_passage_and_duplicate_ids(tmp_path):
    bad = [dict(QUESTIONS[0], passage_id="p9")]
    with pytest.raises(ValueError, match=r"questions\.jsonl:1: passage_id 'p9' is not in"):
        load_dataset(make_dataset(tmp_path, questions=bad))
    with pytest.raises(ValueError, match=r"passages\.jsonl:2: duplicate passage id 'p1'"):
        load_dataset(make_dataset(tmp_path, passages=[PASSAGES[0], PASSAGES[0]], name="t2"))
    with pytest.raises(ValueError, match=r"questions\.jsonl:2: duplicate question id 'q1'"):
        load_dataset(make_dataset(tmp_path, questions=[QUESTIONS[0], QUESTIONS[0]], name="t3"))


def test_distractors(tmp_path):
    ds = load_dataset(make_dataset(tmp_path))
    extra_file = tmp_path / "extra.jsonl"
    write_jsonl(extra_file, [{"id": "x1", "lang": "id", "title": None, "text": "Lain."}])
    extra = passages_only(extra_file)
    assert extra == (EvalPassage("x1", "id", None, "Lain."),)
    merged = with_distractors(ds, extra)
    assert [p.id for p in merged.passages] == ["p1", "p2", "x1"]
    assert merged.questions == ds.questions and ds.passages == load_dataset(tmp_path / "tiny").passages
    # A folder works too, and its passages clash with the dataset's own ids.
    with pytest.raises(ValueError, match="distractor passage id 'p1' clashes"):
        with_distractors(ds, passages_only(tmp_path / "tiny"))
    # Clashes among the distractors themselves are caught as well.
    with pytest.raises(ValueError, match="'x1' clashes"):
        with_distractors(ds, extra + extra)


@pytest.mark.parametrize("name, kind, n_passages, n_questions", [
    ("tydiqa-id", EXTRACTIVE, 253, 276),
    ("belebele-id-en", MULTIPLE_CHOICE, 234, 858),
])
def test_shared_datasets_load(name, kind, n_passages, n_questions):
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    ds = load_dataset(folder)
    assert (ds.kind, len(ds.passages), len(ds.questions)) == (kind, n_passages, n_questions)
    assert all(q.answerable for q in ds.questions)


def test_seed_dataset_loads():
    folder = ROOT / "eval" / "data" / "seed"
    if not (folder / "questions.jsonl").is_file():
        pytest.skip("seed set not written yet")
    ds = load_dataset(folder)
    assert ds.kind == EXTRACTIVE and len(ds.passages) == 1
    unanswerable = [q for q in ds.questions if not q.answerable]
    assert unanswerable and all(q.gold_sentence_text is None for q in unanswerable)
    assert all(q.gold_sentence_text for q in ds.questions if q.answerable)
