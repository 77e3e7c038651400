"""Run an evaluation: index a dataset's passages, ask every question, grade, write reports.

`qa eval DATASET_DIR` (see qa/cli.py) calls `run_eval`; tests call it directly.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from eval import report
from eval.corpus import DEFAULT_CACHE, index_passages
from eval.datasets import EXTRACTIVE, Dataset, load_dataset, passages_only, with_distractors
from eval.generative import generation_table, generative, summarize_generation
from eval.grade import grade
from eval.metrics import recall_at_k, summarize
from eval.remote import RemoteSystem
from eval.systems import RUN_ORDER, SYSTEMS, LocalSystems, System
from index.embedders import Embedder
from qa.engine import AnswerConfig, Engine, config_from_settings
from qa.generate import LLMConfig
from qa.indexing import build_options
from qa.service import Service
from qa.settings import Settings

log = logging.getLogger(__name__)
CURVE_KS = range(1, 11)
EXTRA_COLUMNS = (("gold_sentence_top1", "Cit 1 = gold sent"), ("gold_sentence_cited", "Gold sent cited"),
                 ("highlight_rate", "Short answer marked"), ("highlight_acc", "Marked = gold"))


@dataclass
class EvalOptions:
    """What to evaluate and where to write it (the `qa eval` arguments)."""

    dataset: Path
    distractors: list[Path] = field(default_factory=list)
    top_k: int = 10
    server: str | None = None
    out: Path | None = None
    compare: bool = False
    cache_dir: Path = DEFAULT_CACHE
    show_progress: bool = True
    mode: str = "extractive"  # "generative": the full system's answers go through the LLM (eval/generative.py)


def load(opts: EvalOptions) -> Dataset:
    """The dataset with every distractor folder's passages appended."""
    dataset = load_dataset(opts.dataset)
    for folder in opts.distractors:
        dataset = with_distractors(dataset, passages_only(folder))
    return dataset


def local_systems(opts: EvalOptions, dataset: Dataset, settings: Settings, embedder: Embedder | None,
                  config: AnswerConfig | None = None) -> tuple[dict[str, System], dict]:
    """In-process systems over the (cached) index of the dataset's passages, and its build info."""
    embedder = embedder or settings.make_embedder()
    built = index_passages(dataset.passages, embedder, build_options(settings, opts.show_progress),
                           opts.cache_dir)
    engine = Engine(embedder, config or config_from_settings(settings), built.store, settings.make_reader())
    local = LocalSystems(Service.from_settings(settings, engine=engine), depth=opts.top_k)
    names = SYSTEMS if opts.compare else ("full",)
    if engine.reader is None:  # without a reader the two would be the same system
        names = tuple(n for n in names if n != "no-reader")
    return {name: local.get(name) for name in names}, built.build_info()


def recall_curve(results: list[dict]) -> dict[int, float | None]:
    """Recall@k for k = 1..10 over answerable questions."""
    ranks = [r["gold_rank"] for r in results if r.get("answerable") and "gold_rank" in r]
    return {k: recall_at_k(ranks, k) for k in CURVE_KS}


def _run_rank(name: str) -> int:
    return RUN_ORDER.index(name) if name in RUN_ORDER else -1


def ask_all(dataset: Dataset, systems: dict[str, System], n_cited: int, show_progress: bool) -> dict[str, list]:
    """Every question through every system, graded; one progress bar over the questions."""
    texts = {p.id: p.text for p in dataset.passages}
    extractive = dataset.kind == EXTRACTIVE
    results: dict[str, list[dict]] = {name: [] for name in systems}
    for q in tqdm(dataset.questions, desc=f"eval {dataset.name}", unit="q", disable=not show_progress):
        for name in sorted(systems, key=_run_rank):
            results[name].append(grade(q, systems[name](q.question), texts, extractive=extractive, n_cited=n_cited))
    return results


def run_eval(opts: EvalOptions, settings: Settings, embedder: Embedder | None = None,
             config: AnswerConfig | None = None) -> dict:
    """Evaluate, write results.json, report.md and recall.png under the output folder; return the run.

    `config` overrides the answering config derived from `settings` (as the server derives it).
    """
    if opts.mode not in ("extractive", "generative"):
        raise ValueError(f"--mode must be extractive or generative, not {opts.mode!r}")
    if opts.server and opts.compare:
        raise ValueError("--compare runs BM25 and dense retrieval in-process; drop --server to compare")
    started = time.perf_counter()
    dataset = load(opts)
    if opts.server:
        remote = RemoteSystem(opts.server, top_k=opts.top_k)
        systems, build = {"full": remote}, {}
    else:
        remote = None
        systems, build = local_systems(opts, dataset, settings, embedder, config)
    if opts.mode == "generative":
        systems["full"] = generative(systems["full"], LLMConfig.from_settings(settings))
    try:
        results = ask_all(dataset, systems, settings.top_k, opts.show_progress)
    finally:
        if remote is not None:
            remote.close()
    run = {
        "dataset": dataset.name, "kind": dataset.kind, "passages": len(dataset.passages),
        "questions": len(dataset.questions), "distractors": [str(d) for d in opts.distractors],
        "top_k": opts.top_k, "server": opts.server, "settings": _settings_used(settings),
        "code": code_fingerprint(),
        "systems": {name: {"summary": summarize(rows), "recall_curve": recall_curve(rows),
                           "build": build, "results": rows} for name, rows in results.items()},
    }
    if opts.mode == "generative":
        run["generation"] = summarize_generation(results["full"])
    run["wall_seconds"] = round(time.perf_counter() - started, 1)
    run["outputs"] = write_outputs(run, opts.out or Path("eval-out") / dataset.name)
    return run


def code_fingerprint() -> str:
    """sha256 (first 12 hex) of the index/, qa/ and eval/ sources: which code produced a run."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(p for pkg in ("index", "qa", "eval") for p in (root / pkg).rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def _settings_used(settings: Settings) -> dict:
    keys = ("embedder", "chunk_size", "chunk_overlap", "dense_kind", "top_k", "candidates",
            "fusion_alpha_id", "fusion_alpha_en", "abstain_threshold_id",
            "abstain_threshold_en")
    return {k: getattr(settings, k) for k in keys}


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def extra_table(systems: dict[str, dict]) -> str | None:
    """Gold-sentence metrics (sets with gold sentences), per system and language; None if unmeasured."""
    rows = []
    for name, system in systems.items():
        summary = system["summary"]
        for group, metrics in [("all", summary["overall"]), *summary["groups"].items()]:
            if any(metrics.get(key) is not None for key, _ in EXTRA_COLUMNS):
                cells = [_rate(metrics.get(key)) for key, _ in EXTRA_COLUMNS]
                rows.append(f"| {name} | {group} | " + " | ".join(cells) + " |")
    if not rows:
        return None
    header = "| system | lang | " + " | ".join(h for _, h in EXTRA_COLUMNS) + " |"
    return "\n".join([header, "|---|---|" + "---:|" * len(EXTRA_COLUMNS), *rows])


def write_outputs(run: dict, out: Path) -> dict[str, str]:
    """results.json, report.md (tables, worst failures) and recall.png in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plot = report.plot_recall({n: s["recall_curve"] for n, s in run["systems"].items()}, out / "recall.png")
    text = report.markdown_report(run, plot_path=plot.name)
    if run.get("generation"):
        text += "\n## Generative answers\n\n" + generation_table(run["generation"]) + "\n"
    extra = extra_table(run["systems"])
    if extra:
        text = text.replace("\n## Recall@k", f"\n## Gold sentence\n\n{extra}\n\n## Recall@k", 1)
    md = out / "report.md"
    md.write_text(text, encoding="utf-8")
    js = report.write_json(out / "results.json", run)
    return {"json": str(js), "report": str(md), "plot": str(plot)}


def terminal_summary(run: dict) -> str:
    """The overall and per-language tables, build figures and output paths, for the console."""
    systems = run["systems"]
    summaries = {n: s["summary"] for n, s in systems.items()}
    parts = [f"{run['dataset']} ({run['kind']}): {run['questions']} questions, {run['passages']} passages",
             "", "overall", report.metrics_table({n: s["overall"] for n, s in summaries.items()})]
    for group in sorted({g for s in summaries.values() for g in s["groups"]}):
        parts += ["", f"lang = {group}", report.metrics_table({n: s["groups"].get(group) for n, s in summaries.items()})]
    extra = extra_table(systems)
    if extra:
        parts += ["", "gold sentence", extra]
    build = next((s["build"] for s in systems.values() if s.get("build")), None)
    if build:
        how = "cached; figures from the original build" if build.get("cached") else "fresh build"
        parts += ["", f"index: {build['passages']} passages, {build['chunks']} chunks, built in "
                      f"{build['seconds']:.1f} s ({build['throughput_per_s']:.1f} passages/s; {how})"]
    if run.get("generation"):
        parts += ["", generation_table(run["generation"])]
    parts += ["", f"took {run['wall_seconds']:.1f} s; wrote " + ", ".join(run["outputs"].values())]
    return "\n".join(parts)
