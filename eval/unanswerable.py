"""On-topic unanswerable questions, made from a question set: `python -m eval.unanswerable SRC OUT`.

Each passage loses every sentence that holds one of its questions' gold answers; the questions
whose answers were cut become unanswerable (`"answers": []`) and keep their passage id, so they
are still asked about the right topic, only the answer is gone. This is the hard case for
abstention: the off-topic negatives of eval.calibrate (a question over documents about something
else) share few words with the text, while these share the topic, the names and the wording.
A passage with nothing left, or none of whose answers a sentence holds, is dropped with its
questions. Run `qa eval OUT` on the result: every question should abstain.
"""
from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

from eval.datasets import EXTRACTIVE, PASSAGES_FILE, QUESTIONS_FILE, Dataset, EvalPassage, EvalQuestion, load_dataset
from eval.report import write_text_atomic
from index.sentences import split_sentences


def remove_answers(dataset: Dataset) -> Dataset:
    """The dataset with answer-bearing sentences cut out and their questions unanswerable.

    In an extractive set every answer is a span of its passage. In a multiple-choice set
    (Belebele) the correct option only sometimes stands in the passage word for word; a question
    counts when its option, or that of its twin in the other language (`parallel_question_id`),
    does, as a whole word. The rest are left out: where their answer lies is unknown.
    """
    twins = {q.id: q for q in dataset.questions}
    answers = {q.id: _answers(q, twins.get(q.parallel_question_id or "")) for q in dataset.questions}
    wanted: dict[str, set[str]] = defaultdict(set)  # passage id -> answer strings to cut
    for q in dataset.questions:
        wanted[q.passage_id] |= answers[q.id]
    cuts = {p.id: _cut(p, wanted[p.id], dataset.kind) for p in dataset.passages}
    kept = {pid: cut for pid, cut in cuts.items() if cut is not None}
    questions = tuple(replace(q, answers=(), gold_sentence_text=None, choices=None) for q in dataset.questions
                      if q.passage_id in kept and answers[q.id] & kept[q.passage_id][1])
    passages = tuple(cut[0] for cut in kept.values())
    return Dataset(f"{dataset.name}-answers-removed", passages, questions, EXTRACTIVE)


def _answers(question: EvalQuestion, twin: EvalQuestion | None) -> set[str]:
    """The question's answer strings, and its twin's, case-folded."""
    return {a.lower() for q in (question, twin) if q is not None for a in q.answers if a.strip()}


def _holds(sentence: str, answer: str, kind: str) -> bool:
    """Whether `sentence` (case-folded) holds `answer`: as a span, or for an option text as whole words."""
    if kind == EXTRACTIVE:
        return answer in sentence
    return re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", sentence) is not None


def _cut(passage: EvalPassage, answers: set[str], kind: str) -> tuple[EvalPassage, set[str]] | None:
    """`passage` without the sentences holding any of `answers`, and the answers found (None: none, or nothing left)."""
    sentences = [passage.text[s.start : s.end] for s in split_sentences(passage.text)]
    held = [{a for a in answers if _holds(s.lower(), a, kind)} for s in sentences]
    rest = [s for s, h in zip(sentences, held) if not h]
    if not rest or len(rest) == len(sentences):
        return None
    return replace(passage, text=" ".join(rest)), set().union(*held)


def write_dataset(dataset: Dataset, folder: Path) -> None:
    """Write `dataset` as a folder that eval.datasets.load_dataset reads back."""
    _write_jsonl(folder / PASSAGES_FILE, [asdict(p) for p in dataset.passages])
    _write_jsonl(folder / QUESTIONS_FILE,
                 [{k: v for k, v in asdict(q).items() if v is not None} for q in dataset.questions])


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="dataset folder (passages.jsonl, questions.jsonl)")
    parser.add_argument("out", type=Path, help="folder to write the unanswerable set to")
    args = parser.parse_args()
    try:
        source = load_dataset(args.source)
        derived = remove_answers(source)
    except ValueError as exc:  # a missing folder or a malformed line: say which, without a traceback
        parser.exit(2, f"error: {exc}\n")
    write_dataset(derived, args.out)
    print(f"{args.out}: {len(derived.questions)} of {len(source.questions)} questions made unanswerable "
          f"over {len(derived.passages)} of {len(source.passages)} passages")


if __name__ == "__main__":
    main()
