"""sentence-transformers embedder (PyTorch, CPU or GPU): any Hugging Face model name or local folder.

Installed with the `st` extra, after torch: `pip install torch==2.13.0 && pip install -e '.[st]'`.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.embedders.base import normalize
from index.errors import EmbedderError

DEFAULT_PROMPTS = ("query: ", "passage: ")  # multilingual-e5's; other models want others (or "")
INSTALL = "pip install torch==2.13.0 && pip install -e '.[st]'"


def vector_space_of(model: str) -> str | None:
    """The vector space a `qa model export` folder declares (None for any other model)."""
    marker = Path(model) / "qa-export.json"
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("vector_space")
    except (OSError, ValueError):
        return None


class SentenceTransformerEmbedder:
    """A SentenceTransformer model with explicit query/passage prompts; calls are serialized by a lock.

    One call at a time: concurrent calls would only compete for the same cores (CPU)
    or queue on the same device (GPU), and batches are already as wide as configured.
    """

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32,
                 query_prompt: str = DEFAULT_PROMPTS[0], passage_prompt: str = DEFAULT_PROMPTS[1]):
        self._model = _load(model, device)
        self._lock = threading.Lock()
        self.batch_size = max(1, batch_size)
        self.query_prompt, self.passage_prompt = query_prompt, passage_prompt
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self.id = f"sentence-transformers:{_short_name(model)}"
        if (query_prompt, passage_prompt) != DEFAULT_PROMPTS:
            # other prompts give other vectors: an index built with them is not interchangeable
            self.id += f"[{query_prompt!r},{passage_prompt!r}]"
        self.vector_space = vector_space_of(model) if (query_prompt, passage_prompt) == DEFAULT_PROMPTS else None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (with the query prompt)."""
        return self._embed(list(texts), self.query_prompt)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed passages (with the passage prompt) in batches, reporting progress per batch."""
        return self._embed(list(texts), self.passage_prompt, progress)

    def token_count(self, text: str, *, is_query: bool = False) -> int:
        """Number of tokens the model sees for `text` (prompt and specials included, before truncation)."""
        prompt = self.query_prompt if is_query else self.passage_prompt
        return len(self._model.tokenizer(prompt + text)["input_ids"])

    def _embed(self, texts: list[str], prompt: str, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # longest first, so each batch pads to similar lengths (and a too-big batch fails early)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            ids = order[start : start + self.batch_size]
            with self._lock:
                vecs = self._model.encode([texts[i] for i in ids], prompt=prompt, batch_size=len(ids),
                                          convert_to_numpy=True, normalize_embeddings=True,
                                          show_progress_bar=False)
            out[ids] = vecs
            if progress:
                progress(len(ids))
        return normalize(out)


def _short_name(model: str) -> str:
    """A hub name as is ('intfloat/multilingual-e5-small'); a local folder by its name."""
    path = Path(model)
    return path.resolve().name if path.is_dir() else model


def _load(model: str, device: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EmbedderError(f"the sentence-transformers embedder is not installed; run `{INSTALL}`") from None
    try:
        return SentenceTransformer(model, device=device)
    except (OSError, ValueError) as exc:
        raise EmbedderError(
            f"can't load sentence-transformers model {model!r} on {device!r} ({exc}); give a local folder "
            "(e.g. one written by `qa model export DIR`) or a Hugging Face name that is cached or reachable"
        ) from None
    except RuntimeError as exc:  # e.g. cuda requested but torch was built without it
        raise EmbedderError(f"can't use device {device!r} for {model!r}: {exc}") from None
