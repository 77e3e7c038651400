"""Write evaluation results: JSON, a Markdown report, a Recall@k plot.

The `run` dict that `markdown_report` reads::

    {
      "dataset": str,
      "systems": {                       # e.g. "bm25", "dense", "full", in display order
        name: {
          "summary": <eval.metrics.summarize output>,   # {"group_by", "overall", "groups"}
          "recall_curve": {k: float},    # k = 1..10 (int keys; str keys after JSON are fine)
          "results": [per-question dict],
          "build": {"seconds": float, "passages": int, "chunks": int,
                    "throughput_per_s": float},          # passages indexed per second
        }
      }
    }

A per-question dict holds the `eval.metrics.summarize` keys (`lang`, `answerable`,
`gold_rank`, `abstained`, `top1_contains_gold`, `any_citation_contains_gold`,
`answer_contains_gold`, `citations_valid`, `latency_ms`) plus `id`, `question`,
`answers` (list[str]), `answer` (str) and `citations`
(list of `{"n", "doc_id", "text", "start", "end", "score"}`, best first).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# (summary key, column header, format) in table order.
COLUMNS = (
    ("n", "n", "int"),
    ("recall@1", "R@1", "rate"),
    ("recall@5", "R@5", "rate"),
    ("recall@10", "R@10", "rate"),
    ("mrr@10", "MRR@10", "rate"),
    ("answer_sentence_acc", "Sent acc", "rate"),
    ("any_citation_acc", "Any-cit acc", "rate"),
    ("answer_contains_gold", "Ans⊇gold", "rate"),
    ("abstention_precision", "Abst P", "rate"),
    ("abstention_recall", "Abst R", "rate"),
    ("false_abstentions", "False abst", "int"),
    ("citation_validity", "Cit valid", "rate"),
    ("latency_p50_ms", "p50 ms", "ms"),
    ("latency_p95_ms", "p95 ms", "ms"),
)
WORST_N = 10
CITATION_CHARS = 160


def _default(obj: Any) -> Any:
    """JSON fallback: numpy scalars/arrays, paths, sets, tuples."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_json(path: str | Path, payload: Any) -> Path:
    """Write payload as pretty UTF-8 JSON, creating parent folders; returns the path."""
    path = Path(path)
    write_text_atomic(path, json.dumps(payload, ensure_ascii=False, indent=2, default=_default) + "\n")
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text, creating parent folders; written then renamed, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "int":
        return str(int(value))
    if kind == "ms":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _cell(text: Any, limit: int | None = None) -> str:
    """Make text safe for one Markdown table cell, truncated to `limit` characters."""
    s = " ".join(str(text).split()).replace("|", "\\|")
    if limit is not None and len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def metrics_table(rows: dict[str, dict | None]) -> str:
    """Markdown table with one row per system; a None metrics dict gives an empty row."""
    header = "| system | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    lines = [header, rule]
    for name, metrics in rows.items():
        metrics = metrics or {}
        cells = [_fmt(metrics.get(key), kind) for key, _, kind in COLUMNS]
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _curve_value(curve: dict, k: int) -> float | None:
    return curve.get(k, curve.get(str(k)))


def recall_curve_table(systems: dict[str, dict]) -> str:
    """Markdown table of Recall@k, k = 1..10, one row per system."""
    ks = range(1, 11)
    lines = ["| system | " + " | ".join(f"@{k}" for k in ks) + " |", "|---|" + "---:|" * 10]
    for name, system in systems.items():
        curve = system.get("recall_curve") or {}
        cells = [_fmt(_curve_value(curve, k), "rate") for k in ks]
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _is_failure(r: dict) -> bool:
    rank = r.get("gold_rank")
    return (rank is None or rank > 1 or r.get("top1_contains_gold") is False
            or bool(r.get("abstained")))


def _severity(r: dict) -> tuple:
    """Larger is worse: missed gold passage, then deep rank, then abstained, then wrong top-1."""
    rank = r.get("gold_rank")
    return (rank is None, rank or 0, bool(r.get("abstained")), r.get("top1_contains_gold") is False)


def worst_failures(results: list[dict], n: int = WORST_N) -> list[dict]:
    """Answerable questions that failed, worst first (stable for equal severity)."""
    failed = [r for r in results if r.get("answerable") and _is_failure(r)]
    return sorted(failed, key=_severity, reverse=True)[:n]


def failures_table(results: list[dict], n: int = WORST_N) -> str:
    """Markdown table of the n worst failures, or a line saying there are none."""
    worst = worst_failures(results, n)
    if not worst:
        return "No failures among answerable questions."
    lines = ["| # | id | question | gold answer | top citation | rank |", "|---:|---|---|---|---|---:|"]
    for i, r in enumerate(worst, start=1):
        citations = r.get("citations") or []
        top = _cell(citations[0].get("text", ""), CITATION_CHARS) if citations else "(none)"
        if r.get("abstained"):
            top = "(abstained) " + top
        gold = " / ".join(r.get("answers") or [])
        rank = r.get("gold_rank")
        lines.append(
            f"| {i} | {_cell(r.get('id', ''))} | {_cell(r.get('question', ''), 200)} | "
            f"{_cell(gold, 120)} | {top} | {'missed' if rank is None else rank} |"
        )
    return "\n".join(lines)


def build_lines(systems: dict[str, dict]) -> str:
    """One bullet per system with index build time and throughput."""
    lines = []
    for name, system in systems.items():
        b = system.get("build") or {}
        if not b:
            lines.append(f"- {name}: no build information")
            continue
        lines.append(
            f"- {name}: built in {_fmt(b.get('seconds'), 'ms')} s, "
            f"{_fmt(b.get('passages'), 'int')} passages, {_fmt(b.get('chunks'), 'int')} chunks, "
            f"{_fmt(b.get('throughput_per_s'), 'ms')} passages/s"
        )
    return "\n".join(lines)


def markdown_report(run: dict, plot_path: str | None = None) -> str:
    """Render a run dict (see module docstring) as a Markdown report."""
    systems: dict[str, dict] = run.get("systems", {})
    summaries = {name: s.get("summary") or {} for name, s in systems.items()}
    parts = [f"# Evaluation: {run.get('dataset', '?')}", "", "## Overall", "",
             metrics_table({name: s.get("overall") for name, s in summaries.items()})]
    groups = sorted({g for s in summaries.values() for g in (s.get("groups") or {})})
    group_by = next((s["group_by"] for s in summaries.values() if s.get("group_by")), "lang")
    for group in groups:
        rows = {name: (s.get("groups") or {}).get(group) for name, s in summaries.items()}
        parts += ["", f"## {group_by}: {group}", "", metrics_table(rows)]
    parts += ["", "## Recall@k", "", recall_curve_table(systems)]
    if plot_path:
        parts += ["", f"![Recall@k]({plot_path})"]
    parts += ["", "## Index build", "", build_lines(systems)]
    parts += ["", f"## {WORST_N} worst failures"]
    for name, system in systems.items():
        parts += ["", f"### {name}", "", failures_table(system.get("results") or [])]
    return "\n".join(parts) + "\n"


def plot_recall(systems: dict[str, dict[int, float]], path: str | Path) -> Path:
    """Write a PNG line plot of Recall@k (k = 1..10) per system; returns the path."""
    # Figure + Agg canvas directly: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, curve in systems.items():
        points = sorted((int(k), v) for k, v in curve.items() if v is not None and 1 <= int(k) <= 10)
        if points:
            ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("Recall@k")
    ax.set_xticks(range(1, 11))
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
