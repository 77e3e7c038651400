"""End-to-end evaluation of a tiny dataset built here: in-process, through the CLI, and over HTTP."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from eval.corpus import index_passages
from eval.datasets import load_dataset, passages_only
from eval.grade import citation_valid, gold_rank, inside
from eval.remote import RemoteError, RemoteSystem
from eval.run import EvalOptions, run_eval, terminal_summary
from eval.systems import unique_docs
from qa.engine import config_from_settings
from qa.indexing import build_options
from qa.settings import Settings

PASSAGES = [
    {"id": "borobudur", "lang": "id", "title": "Borobudur",
     "text": "Candi Borobudur adalah candi Buddha terbesar di dunia. Candi ini terletak di Magelang, "
             "Jawa Tengah. Borobudur dibangun pada abad ke-9 oleh wangsa Syailendra."},
    {"id": "toba", "lang": "id", "title": "Danau Toba",
     "text": "Danau Toba adalah danau vulkanik terbesar di Indonesia. Danau ini terletak di Sumatera "
             "Utara.\n\nDi tengah danau terdapat Pulau Samosir yang dihuni suku Batak."},
    {"id": "rendang", "lang": "id", "title": None,
     "text": "Rendang adalah masakan daging khas Minangkabau dari Sumatera Barat. Daging dimasak dengan "
             "santan dan bumbu rempah selama berjam-jam hingga kering."},
]
QUESTIONS = [
    {"id": "q1", "lang": "id", "question": "Di mana letak Candi Borobudur?", "passage_id": "borobudur",
     "answers": ["Magelang"], "gold_sentence_text": "Candi ini terletak di Magelang, Jawa Tengah."},
    {"id": "q2", "lang": "id", "question": "Pulau apa yang ada di tengah Danau Toba?", "passage_id": "toba",
     "answers": ["Pulau Samosir", "Samosir"]},
    {"id": "q3", "lang": "en", "question": "Which region does rendang come from?", "passage_id": "rendang",
     "answers": ["Minangkabau", "Sumatera Barat"]},
    {"id": "q4", "lang": "id", "question": "Kapan Borobudur dibangun?", "passage_id": "borobudur",
     "answers": ["abad ke-9"]},
    {"id": "q5", "lang": "id", "question": "Siapa presiden pertama Amerika Serikat?", "passage_id": "toba",
     "answers": []},
]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A dataset folder; a separate file of distractor passages sits next to it."""
    root = tmp_path_factory.mktemp("tiny-eval")
    data = root / "tiny"
    data.mkdir()
    write_jsonl(data / "passages.jsonl", PASSAGES)
    write_jsonl(data / "questions.jsonl", QUESTIONS)
    write_jsonl(root / "distractors.jsonl", [
        {"id": "komodo", "lang": "id", "title": "Komodo",
         "text": "Komodo adalah kadal terbesar di dunia. Hewan ini hidup di Pulau Komodo dan Flores."}])
    return data


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture(scope="module")
def compared(tiny, settings, embedder) -> dict:
    """One in-process run with --compare (index built into a private cache)."""
    opts = EvalOptions(dataset=tiny, distractors=[tiny.parent / "distractors.jsonl"], compare=True,
                       out=tiny.parent / "out", cache_dir=tiny.parent / "cache", show_progress=False)
    return run_eval(opts, settings, embedder=embedder)


def test_compare_run_metrics_are_sane(compared):
    systems = compared["systems"]
    assert list(systems) == ["bm25", "dense", "no-reader", "full"]  # the learned reader is on by default
    assert compared["passages"] == 4 and compared["questions"] == len(QUESTIONS)
    for name, system in systems.items():
        overall = system["summary"]["overall"]
        assert overall["n"] == 5 and overall["n_answerable"] == 4
        assert overall["recall@10"] == 1.0, name  # only four documents: the gold one is always found
        assert 0 < overall["mrr@10"] <= 1
        assert set(system["summary"]["groups"]) == {"id", "en"}
        assert [r["id"] for r in system["results"]] == [q["id"] for q in QUESTIONS]
        assert system["build"]["passages"] == 4 and system["build"]["cached"] is False
    full = systems["full"]["summary"]["overall"]
    assert full["citation_validity"] == 1.0
    assert full["answer_sentence_acc"] is not None and full["abstention_recall"] is not None
    assert full["gold_sentence_top1"] is not None
    # retrieval-only systems don't decide to abstain, so they report no abstention figures
    assert systems["bm25"]["summary"]["overall"]["abstention_recall"] is None


def test_outputs_written(compared):
    out = Path(compared["outputs"]["json"]).parent
    assert (out / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Overall" in report and "## Gold sentence" in report and "worst failures" in report
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    first = saved["systems"]["full"]["results"][0]
    assert {"question", "answers", "gold_rank", "retrieved", "citations", "answer", "timings_ms"} <= set(first)
    assert "lang = en" in terminal_summary(compared)


def test_cli_reuses_cached_index(tiny, compared):
    from qa.cli import app

    out = tiny.parent / "cli-out"
    result = CliRunner().invoke(app, ["eval", str(tiny), "--distractors", str(tiny.parent / "distractors.jsonl"),
                                      "--out", str(out), "--cache-dir", str(tiny.parent / "cache")])
    assert result.exit_code == 0, result.output
    assert "cached" in result.output and "R@1" in result.output
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(saved["systems"]) == ["full"]
    assert saved["systems"]["full"]["build"]["cached"] is True


def test_cli_reports_bad_dataset(tmp_path):
    from qa.cli import app

    result = CliRunner().invoke(app, ["eval", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "not found" in result.output


def test_server_mode_matches_in_process(tiny, compared, settings, embedder):
    """The same questions over HTTP against a real server give the same answers."""
    from qa.engine import Engine
    from conftest import LiveServer
    from web.app import create_app

    dataset = load_dataset(tiny)
    passages = dataset.passages + passages_only(tiny.parent / "distractors.jsonl")
    built = index_passages(passages, embedder, build_options(settings, False), tiny.parent / "cache")
    assert built.cached
    engine = Engine(embedder, config_from_settings(settings), built.store)
    with LiveServer(create_app(settings, engine=engine)) as server:
        opts = EvalOptions(dataset=tiny, distractors=[tiny.parent / "distractors.jsonl"], server=server.url,
                           out=tiny.parent / "server-out", show_progress=False)
        remote = run_eval(opts, settings)
    local = {r["id"]: r for r in compared["systems"]["full"]["results"]}
    for r in remote["systems"]["full"]["results"]:
        mine = local[r["id"]]
        # the server is asked for top_k=10 citations (for ranks), in-process for QA_TOP_K
        assert r["citations"][: len(mine["citations"])] == mine["citations"]
        assert r["abstained"] == mine["abstained"] and r.get("gold_rank") == mine.get("gold_rank")
        assert r.get("top1_contains_gold") == mine.get("top1_contains_gold")
        assert r["citations_valid"] is True
    assert remote["systems"]["full"]["build"] == {}


def test_server_errors_say_what_to_do():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"detail": "no index is loaded; run `qa index`"})

    system = RemoteSystem("http://qa.test", transport=httpx.MockTransport(handler))
    with pytest.raises(RemoteError, match="503.*qa index"):
        system("Apa itu rendang?")
    with pytest.raises(ValueError, match="--compare"):
        run_eval(EvalOptions(dataset=Path("."), server="http://qa.test", compare=True), Settings(_env_file=None))


@pytest.mark.parametrize("docs, rank", [(["a", "b", "c"], 2), (["a"], None), ([], None)])
def test_gold_rank(docs, rank):
    assert gold_rank("b", docs) == rank


def test_unique_docs_dedupes_and_extends():
    assert unique_docs(["a", "a", "b", "a", "c", "d"], 3) == ["a", "b", "c"]
    assert unique_docs(["b", "c", "d"], 3, seen=["a", "b"]) == ["a", "b", "c"]


def test_citation_checks():
    texts = {"d": "Satu kalimat. Dua kalimat."}
    good = {"doc_id": "d", "start": 14, "end": 26, "text": "Dua kalimat."}
    assert citation_valid(good, texts)
    assert not citation_valid({**good, "start": 13}, texts)
    assert not citation_valid({**good, "doc_id": "x"}, texts)
    assert not citation_valid({**good, "end": 99, "text": "Dua kalimat."}, texts)
    assert inside(good, "d", (14, 26)) and inside({**good, "start": 18}, "d", (14, 26))
    assert not inside(good, "d", (0, 13)) and not inside(good, "e", (14, 26))


def test_shared_queries_embed_once_and_report_cost():
    from eval.systems import SharedQueries

    class Counting:
        id, dim, calls = "fake", 2, 0

        def embed_queries(self, texts):
            self.calls += 1
            return np.ones((len(texts), 2), np.float32)

    inner = Counting()
    shared = SharedQueries(inner, size=2)
    for _ in range(3):
        shared.embed_queries(["apa?"])
    assert inner.calls == 1 and shared.cost_ms("apa?") >= 0 and shared.cost_ms("lain") == 0.0
    shared.embed_queries(["a", "b"])  # batches (e.g. single words) pass straight through
    assert inner.calls == 2


def test_compare_with_the_reader_adds_the_pipeline_without_it(tiny, settings, embedder):
    reading = settings.model_copy(update={"reader": "bundled", "reader_threshold_id": 50.0,
                                          "reader_threshold_en": 50.0})  # the reader abstains on everything
    opts = EvalOptions(dataset=tiny, compare=True, out=tiny.parent / "out-reader", cache_dir=tiny.parent / "cache",
                       show_progress=False)
    systems = run_eval(opts, reading, embedder=embedder)["systems"]
    assert list(systems) == ["bm25", "dense", "no-reader", "full"]
    full, plain = (systems[n]["summary"]["overall"] for n in ("full", "no-reader"))
    assert full["abstention_recall"] == 1.0 and full["false_abstentions"] == full["n_answerable"]
    assert plain["false_abstentions"] < plain["n_answerable"]  # without the reader the same questions answer
