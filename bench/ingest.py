"""Indexing speed against the embedder's own: `python bench/ingest.py [--passages 400]`.

Writes the shared eval passages (TyDi, Belebele, IDK-MRC: real Indonesian text of ~600
characters) as .txt files (title line, blank line, text), then in one process and on the same
passages: embeds the passage texts once as plain e5 passages (the raw rate), runs the whole
`qa index` build into a fresh folder (the index rate), and embeds the passages again (the raw
rate drifts on a shared machine, so it is taken before and after). Prints the passages/s of
each, the ratio (the target is at least 0.5) and where the build's time went, and splits the
ratio in two factors (`tokens`): the recipe's (the passages' tokens against all the tokens the
build embeds) and the engine's (the build's tokens/s against the raw pass's). Both rates use the
embedder as configured (QA_EMBED_WORKERS: batches on one-thread workers); the raw rate with one
batch at a time on all threads is printed too (`raw_one_team_passages_per_s`). With
`--chunk-vectors own,sentences` it builds both ways (a pass per chunk, the default recipe v5; or
chunks made from their sentences' passes, v6) in one run, each between two raw-rate measurements.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from eval.datasets import SHARED, passages_only
from index.build import in_context, split_document
from index.chunks import chunk_document
from index.documents import load_documents
from qa.indexing import index_documents
from qa.settings import Settings

SETS = ("tydiqa-id", "belebele-id-en", "idk-mrc-dev")


def write_passages(folder: Path, limit: int, shared: Path) -> list[str]:
    """Write up to `limit` shared eval passages as titled .txt files; return their texts."""
    texts = []
    for name in SETS:
        for p in passages_only(shared / name / "passages.jsonl"):
            if len(texts) == limit:
                return texts
            body = f"{p.title}\n\n{p.text}" if p.title else p.text
            (folder / f"{name}-{len(texts):05d}.txt").write_text(body, encoding="utf-8")
            texts.append(p.text)
    return texts


class Recording:
    """The embedder, recording the texts each embedding call is given (the build's token count)."""

    def __init__(self, embedder):
        self._inner, self.calls = embedder, []

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name.startswith("embed_"):
            def record(texts, *a, **k):
                self.calls.append((name, list(texts)))
                return attr(texts, *a, **k)
            return record
        return attr


def tokens_by_call(embedder, calls: list) -> dict[str, int]:
    """Tokens the build embedded, per call kind (a separate latent-term pass re-reads texts, so it is left out)."""
    out: dict[str, int] = {}
    for name, batch in calls:
        if name != "embed_sparse":
            out[name] = out.get(name, 0) + sum(embedder.token_count(t, is_query=name == "embed_queries") for t in batch)
    return out


def token_split(passage_tokens: int, by_call: dict[str, int], ratio: float) -> dict:
    """The ratio as recipe factor (passage tokens per build token) x engine factor (the rest)."""
    built = sum(by_call.values())
    return {"passage_tokens": passage_tokens, "build_tokens": built, "build_tokens_by_call": by_call,
            "recipe_factor": round(passage_tokens / built, 3), "engine_factor": round(ratio * built / passage_tokens, 3)}


def raw_rate(embedder, texts: list[str]) -> float:
    """Passages per second of one plain passage-embedding pass over `texts`."""
    t0 = time.perf_counter()
    embedder.embed_passages(texts)
    return len(texts) / (time.perf_counter() - t0)


def one_team_rate(embedder, texts: list[str]) -> float | None:
    """The raw rate with the batches one after another on a team of all threads (QA_EMBED_WORKERS=false)."""
    workers = getattr(embedder, "workers", 1)
    if workers < 2:
        return None
    embedder.workers = 1
    try:
        return round(raw_rate(embedder, texts), 2)
    finally:
        embedder.workers = workers


def passes_ab(embedder, docs: Path, rounds: int) -> dict:
    """Seconds to embed the build's sentence and chunk texts two ways, alternating: dense then
    latent terms (two passes, the v4 recipe) against both from one pass (this build's)."""
    texts = []
    for doc in load_documents([docs]):
        sents = split_document(doc)
        texts += [in_context(doc, s.text) for s in sents]
        texts += [in_context(doc, c.text) for c in chunk_document(doc, sents, size=3, overlap=1)]
    times: dict[str, list[float]] = {"two_passes": [], "one_pass": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        embedder.embed_passages(texts)
        embedder.embed_sparse(texts)
        times["two_passes"].append(round(time.perf_counter() - t0, 2))
        t0 = time.perf_counter()
        embedder.embed_passages_sparse(texts)
        times["one_pass"].append(round(time.perf_counter() - t0, 2))
    return {"texts": len(texts), **times}


def build_once(settings: Settings, embedder, docs: Path, folder: Path, chunk_vectors: str) -> dict:
    """Run the whole `qa index` build of `docs` into `folder` with this chunk-vector recipe; its figures."""
    run = settings.model_copy(update={"index_dir": folder, "chunk_vectors": chunk_vectors})
    recording = Recording(embedder)
    t0 = time.perf_counter()
    summary = index_documents(run, [docs], rebuild=True, embedder=recording, show_progress=False)
    seconds = time.perf_counter() - t0
    counted = tokens_by_call(embedder, recording.calls) if hasattr(embedder, "token_count") else None
    manifest = json.loads(next((folder / "builds").glob("*/manifest.json")).read_text())
    return {"index_seconds": round(seconds, 2), "recipe": manifest["embed_recipe"],
            "embedded_texts": manifest["embedded_texts"], "counts": manifest["counts"],
            "phases_s": manifest.get("phase_seconds", {}), "summary": summary, "tokens": counted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--ab-rounds", type=int, default=0, help="also time two passes against one, alternating")
    parser.add_argument("--chunk-vectors", default=None,
                        help="QA_CHUNK_VECTORS of the builds, comma-separated (e.g. own,sentences: both in one run, "
                             "each between two raw-rate measurements) [default: the configured one]")
    args = parser.parse_args()
    settings = Settings()
    args.chunk_vectors = args.chunk_vectors or settings.chunk_vectors
    embedder = settings.make_embedder()
    with tempfile.TemporaryDirectory(prefix="qa-ingest-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        texts = write_passages(docs, args.passages, args.shared)
        embedder.embed_passages(texts[:8])  # warm-up: page in the model
        raws, builds = [raw_rate(embedder, texts)], {}
        for kind in args.chunk_vectors.split(","):
            builds[kind] = build_once(settings, embedder, docs, Path(tmp) / f"index-{kind}", kind)
            raws.append(raw_rate(embedder, texts))
            raw = (raws[-2] + raws[-1]) / 2  # the raw rate drifts on a shared machine: taken on both sides
            builds[kind] = {"raw_passages_per_s": [round(raws[-2], 2), round(raws[-1], 2)],
                            "index_passages_per_s": round(len(texts) / builds[kind]["index_seconds"], 2),
                            "ratio": round(len(texts) / builds[kind]["index_seconds"] / raw, 3), **builds[kind]}
            if builds[kind]["tokens"] is not None:
                passage_tokens = sum(embedder.token_count(t) for t in texts)
                builds[kind]["tokens"] = token_split(passage_tokens, builds[kind]["tokens"], builds[kind]["ratio"])
        ab = passes_ab(embedder, docs, args.ab_rounds) if args.ab_rounds else None
        one_team = one_team_rate(embedder, texts)
    first = next(iter(builds.values()))
    report = {"passages": len(texts), "engine": getattr(embedder, "engine", None), "threads": settings.embed_threads,
              "workers": getattr(embedder, "workers", 1), "raw_one_team_passages_per_s": one_team,
              **first, **({"builds": builds} if len(builds) > 1 else {}), **({"passes_ab_s": ab} if ab else {})}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
