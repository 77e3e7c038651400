"""Group sentences into overlapping windows that never cross a paragraph."""
from __future__ import annotations

from itertools import groupby

from index.types import Chunk, Document, Sentence


def windows(n: int, size: int, overlap: int) -> list[range]:
    """Return index windows of `size` with `overlap`, covering 0..n-1 (last one may be short)."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"chunk size must be >= 1 and 0 <= overlap < size (got {size}, {overlap})")
    step = size - overlap
    out = []
    for start in range(0, max(n, 1), step):
        out.append(range(start, min(start + size, n)))
        if start + size >= n:
            break
    return [w for w in out if len(w)]


def chunk_document(doc: Document, sentences: list[Sentence], *, size: int, overlap: int) -> list[Chunk]:
    """Make chunks of consecutive sentences within each paragraph of one document."""
    chunks = []
    for _, group in groupby(sentences, key=lambda s: s.paragraph):
        para = list(group)
        for w in windows(len(para), size, overlap):
            sents = [para[i] for i in w]
            start, end = sents[0].start, sents[-1].end
            chunks.append(Chunk(doc_id=doc.doc_id, sentences=tuple(s.index for s in sents),
                                start=start, end=end, text=doc.text[start:end]))
    return chunks
