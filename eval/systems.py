"""The systems under evaluation, run in-process: BM25 only, dense only, and the full pipeline.

Each system maps a question to an Outcome: the documents it retrieved, in rank order
(deduplicated: a passage rank counts documents, not chunks), plus, for the full
pipeline, the answer and its citations.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterable

import numpy as np

from qa.engine import Engine
from qa.pipeline import answer
from qa.retrieve import retrieve
from qa.service import Service

SYSTEMS = ("bm25", "dense", "no-reader", "full")  # display order; no-reader: the full pipeline minus the reader
# The full pipeline runs first, so its latency includes embedding the question for real.
RUN_ORDER = ("full", "no-reader", "dense", "bm25")


@dataclass
class Outcome:
    """What one system did with one question."""

    docs: list[str]  # unique document ids, best first
    latency_ms: float
    answer: str | None = None
    abstained: bool | None = None  # None: the system never decides to abstain
    language: str | None = None
    citations: list[dict] = field(default_factory=list)
    timings_ms: dict | None = None
    mode: str = "extractive"  # generative: see eval/generative.py
    fallback: bool = False
    fallback_reason: str | None = None
    draft: str | None = None  # the model's reply before verification
    highlight: dict | None = None  # the short answer span the system marked, if any


System = Callable[[str], Outcome]


class SharedQueries:
    """An Embedder that remembers recent single-question vectors and what each one cost.

    The systems are asked the same question one after another; sharing its embedding
    saves a model call per system, and `cost_ms` lets each still report the full cost.
    """

    def __init__(self, inner, size: int = 4):
        self.inner, self.size = inner, size
        self.id, self.dim = inner.id, inner.dim
        self._memo: OrderedDict[str, tuple[np.ndarray, float]] = OrderedDict()

    def __getattr__(self, name):  # anything else the pipeline may use (e.g. token_count)
        return getattr(self.inner, name)

    def embed_queries(self, texts):
        """Vectors for queries; a single query is served from the memo when seen recently."""
        if len(texts) != 1:
            return self.inner.embed_queries(texts)
        hit = self._memo.get(texts[0])
        if hit is None:
            t0 = time.perf_counter()
            hit = (self.inner.embed_queries(texts), _ms(t0))
            self._memo[texts[0]] = hit
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return hit[0]

    def embed_passages(self, texts, progress=None):
        """Passages are never memoized."""
        return self.inner.embed_passages(texts, progress=progress)

    def cost_ms(self, text: str) -> float:
        """What embedding `text` took when it was first asked (0 if not remembered)."""
        hit = self._memo.get(text)
        return hit[1] if hit else 0.0


def unique_docs(doc_ids: Iterable[str], limit: int, seen: list[str] | None = None) -> list[str]:
    """First `limit` distinct ids in order, continuing after those already in `seen`."""
    out = list(seen or [])
    known = set(out)
    for doc_id in doc_ids:
        if len(out) >= limit:
            break
        if doc_id not in known:
            known.add(doc_id)
            out.append(doc_id)
    return out


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


class LocalSystems:
    """The systems over one answering service's engine (embedder + store + answering config)."""

    def __init__(self, service: Service, depth: int = 10):
        engine = service.engine
        self.queries = SharedQueries(engine.embedder)
        self.engine = Engine(self.queries, engine.config, engine.store, engine.reader)
        self.service = replace(service, engine=self.engine)
        # the same pipeline without the learned reader (sentence choice and abstention by the hand rules)
        self.plain = replace(service, engine=Engine(self.queries, engine.config, engine.store))
        self.depth = depth
        # a document holds several chunks, so ask for enough chunks to cover `depth` documents
        self.candidates = max(50, 5 * depth)
        deep = replace(engine.config, candidates=max(engine.config.candidates, self.candidates))
        self.deep_engine = Engine(self.queries, deep, engine.store)

    def get(self, name: str) -> System:
        """The system called `name` (one of SYSTEMS)."""
        return {"bm25": self.bm25, "dense": self.dense, "full": self.full, "no-reader": self.no_reader}[name]

    def _docs(self, chunk_ids: Iterable[int], seen: list[str] | None = None) -> list[str]:
        chunks = self.engine.store.chunks
        return unique_docs((chunks[int(i)].doc_id for i in chunk_ids), self.depth, seen)

    def bm25(self, question: str) -> Outcome:
        """Pure BM25 ranking of chunks (chunks without any matching term are not ranked).

        Computed here rather than with retrieve(alpha=1): that still takes the dense
        candidates, which tie at fused score 0 and would pad BM25's list with dense hits.
        """
        t0 = time.perf_counter()
        scores = self.engine.store.lexical_scores(question)
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] > 0][: self.candidates]
        return Outcome(docs=self._docs(order), latency_ms=_ms(t0))

    def dense(self, question: str) -> Outcome:
        """Dense-only ranking: the pipeline's retrieval with the BM25 weight at 0."""
        qvec = self.queries.embed_queries([question])[0]  # embedded once per question, see SharedQueries
        t0 = time.perf_counter()
        passages = retrieve(question, qvec, self.engine.store, alpha=0.0, candidates=self.candidates)
        latency = _ms(t0) + self.queries.cost_ms(question)
        return Outcome(docs=self._docs(p.chunk_id for p in passages), latency_ms=round(latency, 2))

    def full(self, question: str) -> Outcome:
        """The pipeline exactly as the API runs it (extractive); documents ranked as it fused them."""
        return self._answered(question, self.service)

    def no_reader(self, question: str) -> Outcome:
        """The full pipeline without the learned reader."""
        return self._answered(question, self.plain, shared_vector=True)

    def _answered(self, question: str, service: Service, shared_vector: bool = False) -> Outcome:
        t0 = time.perf_counter()
        ans = service.extract(question)
        latency = _ms(t0) + (self.queries.cost_ms(question) if shared_vector else 0.0)  # the embedding it reused
        docs = self._docs(p.chunk_id for p in ans.passages)
        if len(docs) < self.depth:
            docs = self._deeper(question, docs)
        return Outcome(docs=docs, latency_ms=latency, answer=ans.answer, abstained=ans.abstained,
                       language=ans.language, citations=[asdict(c) for c in ans.citations],
                       timings_ms=dict(ans.timings_ms), highlight=asdict(ans.highlight) if ans.highlight else None)

    def _deeper(self, question: str, docs: list[str]) -> list[str]:
        """Extend the pipeline's own document list from the same pipeline asked for more candidates.

        The pipeline fuses `candidates` chunks per retriever, which may cover fewer than
        `depth` documents; the prefix stays exactly what the pipeline saw.
        """
        ans = answer(question, self.deep_engine)
        return self._docs((p.chunk_id for p in ans.passages), seen=docs)
