"""On-topic unanswerable questions, made from an extractive set: `python -m eval.unanswerable SRC OUT`.

Each passage loses every sentence that holds one of its questions' gold answers; the questions
whose passage lost them become unanswerable (`"answers": []`) and keep their passage id, so they
are still asked about the right topic, only the answer is gone. This is the hard case for
abstention: the off-topic negatives of eval.calibrate (a question over documents about something
else) share few words with the text, while these share the topic, the names and the wording.
A passage with nothing left, or whose answers the splitter could not find, is dropped with its
questions. Run `qa eval OUT` on the result: every question should abstain.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

from eval.datasets import EXTRACTIVE, PASSAGES_FILE, QUESTIONS_FILE, Dataset, EvalPassage, load_dataset
from index.sentences import split_sentences


def remove_answers(dataset: Dataset) -> Dataset:
    """The dataset with answer-bearing sentences cut out and its questions unanswerable."""
    if dataset.kind != EXTRACTIVE:
        raise ValueError(f"{dataset.name} is {dataset.kind}: its answers are not spans of the passages, so "
                         "the sentences that hold them cannot be found; use an extractive set such as TyDi QA")
    answers: dict[str, set[str]] = defaultdict(set)
    for q in dataset.questions:
        answers[q.passage_id].update(a.lower() for a in q.answers if a.strip())
    passages = [p for p in (_without(p, answers[p.id]) for p in dataset.passages) if p is not None]
    kept = {p.id for p in passages}
    questions = tuple(replace(q, answers=(), gold_sentence_text=None)
                      for q in dataset.questions if q.answerable and q.passage_id in kept)
    return Dataset(f"{dataset.name}-answers-removed", tuple(passages), questions, EXTRACTIVE)


def _without(passage: EvalPassage, answers: set[str]) -> EvalPassage | None:
    """`passage` minus the sentences holding any of `answers` (None: none held one, or none is left)."""
    sentences = [passage.text[s.start : s.end] for s in split_sentences(passage.text)]
    rest = [s for s in sentences if not any(a in s.lower() for a in answers)]
    if not rest or len(rest) == len(sentences):
        return None
    return replace(passage, text=" ".join(rest))


def write_dataset(dataset: Dataset, folder: Path) -> None:
    """Write `dataset` as a folder that eval.datasets.load_dataset reads back."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / PASSAGES_FILE, [asdict(p) for p in dataset.passages])
    _write_jsonl(folder / QUESTIONS_FILE,
                 [{k: v for k, v in asdict(q).items() if v is not None} for q in dataset.questions])


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="extractive dataset folder (passages.jsonl, questions.jsonl)")
    parser.add_argument("out", type=Path, help="folder to write the unanswerable set to")
    args = parser.parse_args()
    try:
        source = load_dataset(args.source)
        derived = remove_answers(source)
    except ValueError as exc:  # a missing folder, a malformed line, a multiple-choice set: say which
        parser.exit(2, f"error: {exc}\n")
    write_dataset(derived, args.out)
    print(f"{args.out}: {len(derived.questions)} of {len(source.questions)} questions made unanswerable "
          f"over {len(derived.passages)} of {len(source.passages)} passages")


if __name__ == "__main__":
    main()
