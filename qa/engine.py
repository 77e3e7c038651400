"""The answering engine: one embedder and the live index, swappable without downtime."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from index import store as store_io
from index.embedders import Embedder
from index.errors import StoreError
from index.store import IndexStore
from qa.errors import NoIndex
from qa.expand import WordVectors


@dataclass(frozen=True)
class AnswerConfig:
    """Answering knobs (taken from Settings at the entry point)."""

    top_k: int = 3
    candidates: int = 20
    alpha_id: float = 0.3
    alpha_en: float = 0.2
    abstain_threshold_id: float = 0.8394  # fitted by `python -m eval.calibrate`
    abstain_threshold_en: float = 0.8001
    passages_used: int = 5
    sentence_weight: float = 0.5
    sentence_lexical_scale: float = 0.25  # BM25 weight inside sentence selection, relative to the retrieval alpha
    type_weight: float = 0.5  # bonus for a sentence holding the asked-for kind of answer (qa.answer_type)
    type_penalty: float = 0.3  # support lost when a how-many/how-much question's best sentence has no figure
    # Support's lexical part, for these languages: the IDF-weighted share of question words the sentence
    # covers (qa/coverage.py; an English word counts as the corpus word qa.expand.bridge maps it to).
    # Other languages keep the capped BM25 bonus.
    coverage_languages: tuple[str, ...] = ("id", "en")
    support_coverage_weight: float = 0.1
    support_lexical_weight: float = 0.05  # see qa.select.support; fitted with eval/calibrate.py
    support_lexical_cap: float = 3.0
    sparse_weight: float = 0.5  # latent-term bonus in chunk ranking (qa.retrieve.add_latent_terms); 0 = off
    sparse_gate: float = 0.2  # ...paid for only when another document's chunk is this close (qa.retrieve.contested)
    # Support also counts the latent terms the question shares with its best sentence (qa.coverage.latent_overlap),
    # for English questions, whose bridged-word coverage misses most cross-lingual matches (docs/evaluation.md).
    latent_support_weight: float = 0.1
    latent_support_languages: tuple[str, ...] = ("en",)
    latent_support_gate: bool = True  # pay the extra model pass only when it can change the decision
    latent_support_missing: float = 0.17  # overlap assumed without latent terms (fitted by eval.calibrate)
    expand_threshold: float = 0.915  # cosine for mapping a question word onto a corpus word
    expand_languages: tuple[str, ...] = ("en",)
    max_question_chars: int = 2000

    def alpha(self, language: str) -> float:
        """BM25 weight for questions in `language`."""
        return self.alpha_en if language == "en" else self.alpha_id

    def abstain_threshold(self, language: str) -> float:
        """Minimum support to answer a question in `language`."""
        return self.abstain_threshold_en if language == "en" else self.abstain_threshold_id


def config_from_settings(settings) -> AnswerConfig:
    """Answering knobs from a qa.settings.Settings (the server, CLI and eval share this)."""
    return AnswerConfig(top_k=settings.top_k, candidates=settings.candidates,
                        alpha_id=settings.fusion_alpha_id, alpha_en=settings.fusion_alpha_en,
                        abstain_threshold_id=settings.abstain_threshold_id,
                        abstain_threshold_en=settings.abstain_threshold_en,
                        sparse_weight=settings.sparse_weight, sparse_gate=settings.sparse_gate)


class Engine:
    """Holds the embedder and the current IndexStore.

    A request reads `engine.store` once and uses that object throughout, so a
    swap (one reference assignment) is seen by each request entirely or not at all.
    """

    def __init__(self, embedder: Embedder, config: AnswerConfig, store: IndexStore | None = None):
        self.embedder = embedder
        self.config = config
        self.store = store
        self.words = WordVectors(embedder)
        self.load_error: str | None = None  # why the last load failed, told to callers while nothing is loaded
        self._failed_build: Path | None = None  # a broken build is reported once, not retried every poll
        self._reload_lock = threading.Lock()

    def require_store(self) -> IndexStore:
        """The live store, or NoIndex with the fix."""
        store = self.store
        if store is None:
            raise NoIndex(self.load_error or "no index is loaded; run `qa index` (or POST /api/admin/reindex) and retry")
        return store

    def load(self, index_dir: Path) -> IndexStore:
        """Load the live build from disk and swap it in; on StoreError the old store stays live."""
        with self._reload_lock:
            try:
                new = store_io.load(index_dir, embedder_id=self.embedder.id,
                                    vector_space=self.embedder.vector_space)
            except StoreError as exc:
                self.load_error = f"the index could not be loaded: {exc}"
                self._failed_build = _current_or_none(index_dir)
                raise
            self.store, self.load_error, self._failed_build = new, None, None
            return new

    def reload_if_changed(self, index_dir: Path) -> bool:
        """Swap in a newer build if CURRENT points elsewhere (e.g. after `qa index` ran).

        A build that failed to load is not retried until CURRENT names another one, so a
        poller logs a broken index once instead of re-hashing and re-logging it forever.
        """
        build = _current_or_none(index_dir)
        if build is None or build == self._failed_build:
            return False
        if self.store is not None and self.store.path == build:
            return False
        self.load(index_dir)
        return True


def _current_or_none(index_dir: Path) -> Path | None:
    try:
        return store_io.current_build(index_dir)
    except StoreError:
        return None
