"""On-topic unanswerable sets: answer-bearing sentences cut out of an extractive set."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from eval.datasets import EXTRACTIVE, MULTIPLE_CHOICE, SHARED, Dataset, EvalPassage, EvalQuestion, load_dataset
from eval.unanswerable import remove_answers, write_dataset

ROOT = Path(__file__).resolve().parents[2]
TYDI = SHARED / "tydiqa-id"  # ../shared beside the checkout, as CI lays it out


def passage(pid: str, text: str) -> EvalPassage:
    return EvalPassage(id=pid, lang="id", title=None, text=text)


def question(qid: str, pid: str, *answers: str) -> EvalQuestion:
    return EvalQuestion(id=qid, lang="id", question=f"Pertanyaan {qid}?", passage_id=pid, answers=answers)


TINY = Dataset(
    name="tiny",
    passages=(
        passage("p1", "Candi Borobudur terletak di Magelang. Candi ini dibangun pada abad ke-9. Ia terdaftar UNESCO."),
        passage("p2", "Bandung adalah ibu kota Jawa Barat."),  # the answer is its only sentence
        passage("p3", "Sungai Musi mengalir di Palembang."),  # the answer is not in the text
    ),
    questions=(
        question("q1", "p1", "abad ke-9"),
        question("q2", "p1", "MAGELANG"),  # matched whatever its case
        question("q3", "p2", "Bandung"),
        question("q4", "p3", "Jambi"),
        question("q5", "p1"),  # already unanswerable: not a question whose answer was cut
    ),
    kind=EXTRACTIVE,
)


def test_sentences_holding_an_answer_are_cut_and_their_questions_become_unanswerable():
    out = remove_answers(TINY)
    assert out.name == "tiny-answers-removed" and out.kind == EXTRACTIVE
    assert [p.text for p in out.passages] == ["Ia terdaftar UNESCO."]
    assert [(q.id, q.passage_id, q.answers) for q in out.questions] == [("q1", "p1", ()), ("q2", "p1", ())]
    assert all(not q.answerable for q in out.questions)


def test_multiple_choice_options_count_as_whole_words_or_through_the_twin_question():
    text = "Surat itu dikirim ke London. Salinannya dibaca di New York. Pembacaan pertama pada 8 Juli."
    mc = Dataset(name="mc", passages=(passage("p1", text),), kind=MULTIPLE_CHOICE, questions=(
        EvalQuestion(id="q1-id", lang="id", question="Ke mana surat dikirim?", passage_id="p1",
                     answers=("London",), choices=("London", "Paris"), parallel_question_id="q1-en"),
        EvalQuestion(id="q1-en", lang="en", question="Where was the letter sent?", passage_id="p1",
                     answers=("to the capital of England",), choices=("x", "y"), parallel_question_id="q1-id"),
        EvalQuestion(id="q2-en", lang="en", question="On which day?", passage_id="p1",
                     answers=("8",), choices=("8", "9")),  # "8" stands alone: cut
        EvalQuestion(id="q3-en", lang="en", question="Which city?", passage_id="p1",
                     answers=("York",), choices=("York", "Leeds")),  # inside "New York": a whole word too
        EvalQuestion(id="q4-en", lang="en", question="Who read it?", passage_id="p1",
                     answers=("Baca",), choices=("Baca", "Tulis")),  # only inside "dibaca": not a word
    ))
    out = remove_answers(mc)
    assert out.kind == EXTRACTIVE and [p.text for p in out.passages] == []  # every sentence held an answer
    mc = replace(mc, questions=mc.questions[:2] + mc.questions[4:])
    out = remove_answers(mc)
    assert [p.text for p in out.passages] == ["Salinannya dibaca di New York. Pembacaan pertama pada 8 Juli."]
    assert [(q.id, q.answers, q.choices) for q in out.questions] == [("q1-id", (), None), ("q1-en", (), None)]


def test_written_set_loads_back(tmp_path):
    out = remove_answers(TINY)
    write_dataset(out, tmp_path / "set")
    back = load_dataset(tmp_path / "set")
    assert back.passages == out.passages and back.questions == out.questions


@pytest.mark.skipif(not TYDI.is_dir(), reason="shared TyDi QA set not present")
def test_tydi_command_leaves_no_answer_in_any_passage(tmp_path):
    done = subprocess.run([sys.executable, "-m", "eval.unanswerable", str(TYDI), str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert "questions made unanswerable" in done.stdout
    source, derived = load_dataset(TYDI), load_dataset(tmp_path / "out")
    gold = {q.id: q.answers for q in source.questions}
    texts = {p.id: p.text.lower() for p in derived.passages}
    assert len(derived.questions) > len(source.questions) // 2
    for q in derived.questions:
        assert not q.answerable
        assert not any(a.lower() in texts[q.passage_id] for a in gold[q.id])


def test_command_reports_a_bad_source_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "eval.unanswerable", str(tmp_path / "missing"), str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "dataset folder not found" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
