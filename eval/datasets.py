"""Load evaluation datasets: a folder with `passages.jsonl` and `questions.jsonl`.

Formats accepted (see /work/shared/eval-data/*/README.md and eval/data/seed/README.md):

- passages: `{"id", "lang", "title" (str|null), "text"}`
- questions: `{"id", "lang", "question", "passage_id", "answers": [str]}` plus optional
  `gold_sentence_text` (seed set), `choices` and `parallel_question_id` (Belebele).
  `"answers": []` marks an unanswerable question. Unknown extra fields are ignored.

A dataset whose questions carry `choices` is "multiple-choice" (answers are option texts,
not spans of the passage); otherwise it is "extractive" (answers occur verbatim).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

PASSAGES_FILE = "passages.jsonl"
QUESTIONS_FILE = "questions.jsonl"
EXTRACTIVE = "extractive"
MULTIPLE_CHOICE = "multiple-choice"
SEED = Path(__file__).resolve().parent / "data" / "seed"  # this project's set over the reference document
SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval-data"  # tydiqa-id, belebele-id-en


@dataclass(frozen=True)
class EvalPassage:
    """One passage (document) to index."""

    id: str
    lang: str
    title: str | None
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    """One question with its gold passage and gold answers (empty: unanswerable)."""

    id: str
    lang: str
    question: str
    passage_id: str
    answers: tuple[str, ...]
    gold_sentence_text: str | None = None
    choices: tuple[str, ...] | None = None
    parallel_question_id: str | None = None  # Belebele: the same question in the other language

    @property
    def answerable(self) -> bool:
        """True when the question has at least one gold answer."""
        return bool(self.answers)


@dataclass(frozen=True)
class Dataset:
    """Passages plus questions over them; kind is "extractive" or "multiple-choice"."""

    name: str
    passages: tuple[EvalPassage, ...]
    questions: tuple[EvalQuestion, ...]
    kind: str


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (1-based line number, object) for each non-blank line of a JSONL file."""
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def _field(obj: dict, name: str, kind: type | tuple, where: str, optional: bool = False):
    """Return obj[name], checking presence and type; raise ValueError naming `where`."""
    if name not in obj or (optional and obj[name] is None):
        if optional:
            return None
        raise ValueError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind):
        raise ValueError(f"{where}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def _strings(obj: dict, name: str, where: str, optional: bool = False) -> tuple[str, ...] | None:
    """Read a list-of-strings field as a tuple."""
    items = _field(obj, name, list, where, optional)
    if items is None:
        return None
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"{where}: field {name!r} must hold only strings")
    return tuple(items)


def _parse_passage(obj: dict, where: str) -> EvalPassage:
    text = _field(obj, "text", str, where)
    if not text.strip():
        raise ValueError(f"{where}: field 'text' is empty")
    return EvalPassage(
        id=_field(obj, "id", str, where),
        lang=_field(obj, "lang", str, where),
        title=_field(obj, "title", str, where, optional=True),
        text=text,
    )


def _parse_question(obj: dict, where: str) -> EvalQuestion:
    return EvalQuestion(
        id=_field(obj, "id", str, where),
        lang=_field(obj, "lang", str, where),
        question=_field(obj, "question", str, where),
        passage_id=_field(obj, "passage_id", str, where),
        answers=_strings(obj, "answers", where),
        gold_sentence_text=_field(obj, "gold_sentence_text", str, where, optional=True),
        choices=_strings(obj, "choices", where, optional=True),
        parallel_question_id=_field(obj, "parallel_question_id", str, where, optional=True),
    )


def _check_unique(ids: Iterable[tuple[str, str]], what: str) -> None:
    """Raise if an id repeats; each item is (id, where it was read)."""
    seen: dict[str, str] = {}
    for item_id, where in ids:
        if item_id in seen:
            raise ValueError(f"{where}: duplicate {what} id {item_id!r} (first at {seen[item_id]})")
        seen[item_id] = where


def _load_passages(path: Path) -> tuple[EvalPassage, ...]:
    passages, ids = [], []
    for lineno, obj in _read_jsonl(path):
        where = f"{path}:{lineno}"
        passage = _parse_passage(obj, where)
        passages.append(passage)
        ids.append((passage.id, where))
    _check_unique(ids, "passage")
    return tuple(passages)


def passages_only(path: str | Path) -> tuple[EvalPassage, ...]:
    """Load passages (e.g. distractors) from a folder's passages.jsonl or a .jsonl file."""
    path = Path(path)
    return _load_passages(path / PASSAGES_FILE if path.is_dir() else path)


def load_dataset(path: str | Path) -> Dataset:
    """Load a dataset folder; ValueError naming file and line on any problem."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder}: dataset folder not found")
    passages = _load_passages(folder / PASSAGES_FILE)
    known = {p.id for p in passages}
    qpath = folder / QUESTIONS_FILE
    questions, ids = [], []
    for lineno, obj in _read_jsonl(qpath):
        where = f"{qpath}:{lineno}"
        question = _parse_question(obj, where)
        if question.passage_id not in known:
            raise ValueError(f"{where}: passage_id {question.passage_id!r} is not in {PASSAGES_FILE}")
        questions.append(question)
        ids.append((question.id, where))
    _check_unique(ids, "question")
    kind = MULTIPLE_CHOICE if any(q.choices is not None for q in questions) else EXTRACTIVE
    return Dataset(folder.name, passages, tuple(questions), kind)


def with_distractors(dataset: Dataset, distractors: Iterable[EvalPassage]) -> Dataset:
    """Return the dataset with extra passages appended; ValueError if any id clashes."""
    extra = tuple(distractors)
    seen = {p.id for p in dataset.passages}
    for passage in extra:
        if passage.id in seen:
            raise ValueError(
                f"distractor passage id {passage.id!r} clashes with a passage already "
                f"in dataset {dataset.name!r} or its distractors"
            )
        seen.add(passage.id)
    return replace(dataset, passages=dataset.passages + extra)
