"""The answering engine: one embedder and the live index, swappable without downtime."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from index import store as store_io
from index.embedders import Embedder
from index.store import IndexStore
from qa.errors import NoIndex


@dataclass(frozen=True)
class AnswerConfig:
    """Answering knobs (taken from Settings at the entry point)."""

    top_k: int = 3
    candidates: int = 20
    alpha_id: float = 0.3
    alpha_en: float = 0.1
    abstain_threshold: float = 0.80
    passages_used: int = 5
    sentence_weight: float = 0.5
    max_question_chars: int = 2000

    def alpha(self, language: str) -> float:
        """BM25 weight for questions in `language`."""
        return self.alpha_en if language == "en" else self.alpha_id


class Engine:
    """Holds the embedder and the current IndexStore.

    A request reads `engine.store` once and uses that object throughout, so a
    swap (one reference assignment) is seen by each request entirely or not at all.
    """

    def __init__(self, embedder: Embedder, config: AnswerConfig, store: IndexStore | None = None):
        self.embedder = embedder
        self.config = config
        self.store = store
        self._reload_lock = threading.Lock()

    def require_store(self) -> IndexStore:
        """The live store, or NoIndex with the fix."""
        store = self.store
        if store is None:
            raise NoIndex("no index is loaded; run `qa index` (or POST /api/admin/reindex) and retry")
        return store

    def load(self, index_dir: Path) -> IndexStore:
        """Load the live build from disk and swap it in."""
        with self._reload_lock:
            new = store_io.load(index_dir, embedder_id=self.embedder.id)
            self.store = new
            return new

    def reload_if_changed(self, index_dir: Path) -> bool:
        """Swap in a newer build if CURRENT points elsewhere (e.g. after `qa index` ran)."""
        try:
            build = store_io.current_build(index_dir)
        except store_io.StoreError:
            return False
        if self.store is not None and self.store.path == build:
            return False
        self.load(index_dir)
        return True
