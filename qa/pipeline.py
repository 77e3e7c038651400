"""answer(): a question in, a grounded Answer out. Orchestration only."""
from __future__ import annotations

import time
from functools import cache

from index.latent import has_latent_terms
from qa.answer_type import STRICT_KINDS, expected_type, highlight
from qa.compose import compose
from qa.coverage import coverage, latent_overlap
from qa.engine import Engine
from qa.errors import InvalidQuestion
from qa.expand import bridge
from qa.language import detect_language
from qa.rerank import rerank
from qa.retrieve import add_latent_terms, contested, retrieve
from qa.select import cite, score_sentences, support
from qa.types import Answer


def clean_question(question: str, max_chars: int) -> str:
    """Strip the question and reject empty, overlong or control-character input."""
    q = question.strip() if isinstance(question, str) else ""
    if not q:
        raise InvalidQuestion("the question is empty; ask something about the documents")
    if len(q) > max_chars:
        raise InvalidQuestion(f"the question has {len(q)} characters; the limit is {max_chars}")
    if "\x00" in q:
        raise InvalidQuestion("the question contains a NUL character")
    return q


def check_length(question: str, engine: Engine) -> None:
    """Refuse a question longer than `max_question_tokens` model tokens (embedding time grows with it).

    2,000 characters can be 2,000+ tokens (emoji take several each): seconds of model time per pass.
    Counting costs well under a millisecond; embedders without a tokenizer to ask are not capped.
    """
    count = getattr(engine.embedder, "token_count", None)
    limit = engine.config.max_question_tokens
    n = count(question, is_query=True) if count is not None else 0
    if n > limit:
        raise InvalidQuestion(f"the question is {n} tokens long for the model; the limit is {limit} "
                              "(QA_MAX_QUESTION_TOKENS): shorten it")


def _support(ranked, coverage_question: str | None, store, cfg, kind: str | None, aliases: dict[str, str]) -> float:
    """Support of the best sentence; lexical part by coverage of `coverage_question` when given."""
    if not ranked:
        return 0.0
    best = ranked[0]
    covered = None
    if coverage_question is not None:
        covered = coverage(coverage_question, store.sentences[best.sentence_id].text, store, aliases)
    penalty = cfg.type_penalty if kind in STRICT_KINDS else 0.0  # "how much" needs a figure to be answered
    return support(best, lexical_weight=cfg.support_lexical_weight, lexical_cap=cfg.support_lexical_cap,
                   type_penalty=penalty, coverage=covered, coverage_weight=cfg.support_coverage_weight)


def _latent_terms(question_terms, passages, engine: Engine, store):
    """Passages re-ranked with latent terms when two documents are close and both sides have them."""
    weight, gate = engine.config.sparse_weight, engine.config.sparse_gate
    rows = store.latent_terms("chunk")
    usable = weight > 0 and rows is not None and has_latent_terms(engine.embedder)
    if not usable or not contested(passages, store, gate):
        return passages
    ids = [p.chunk_id for p in passages]  # only the candidates: all chunks cost ~20 ms per 10k (docs/ingestion.md)
    scores = dict(zip(ids, (rows[ids] @ question_terms().T).toarray().ravel()))
    return add_latent_terms(passages, scores, weight=weight)


def _latent_support(strength: float, ranked, language: str, question_terms, engine: Engine, store):
    """(support, overlap counted): support plus `latent_support_weight` x the best sentence's latent overlap.

    The overlap costs a second model pass, so by default it is computed only when it can change
    the decision (support less than the weight below the threshold); otherwise the plain support,
    already on the right side of the threshold, is returned. Without latent terms (no sparse head,
    an index built before v4) the overlap fitted by eval.calibrate for that case stands in, and is
    returned as the overlap counted, so support minus weight x overlap is always plain support.
    """
    cfg = engine.config
    weight = cfg.latent_support_weight
    if not ranked or weight <= 0 or language not in cfg.latent_support_languages:
        return strength, None
    rows = store.latent_terms("sentence")
    if rows is None or not has_latent_terms(engine.embedder):
        return strength + weight * cfg.latent_support_missing, cfg.latent_support_missing
    threshold = cfg.abstain_threshold(language)
    if cfg.latent_support_gate and not threshold - weight <= strength < threshold:
        return strength, None
    overlap = latent_overlap(question_terms(), rows[ranked[0].sentence_id])
    return strength + weight * overlap, overlap


def answer(question: str, engine: Engine, *, top_k: int | None = None) -> Answer:
    """Retrieve, pick supporting sentences, abstain if support is weak, compose the reply.

    `top_k` citations (None: the configured number). With a learned reader (engine.reader) it reorders
    the best few sentences and abstains when none of them answers (qa/rerank.py).
    """
    cfg = engine.config
    t0 = time.perf_counter()
    q = clean_question(question, cfg.max_question_chars)
    check_length(q, engine)
    store = engine.require_store()  # read once: a concurrent swap can't mix two indexes
    language = detect_language(q)
    qvec = engine.embedder.embed_queries([q])[0]
    bridged = bridge(q, store, engine.words, threshold=cfg.expand_threshold) if language in cfg.expand_languages else {}
    lexical_query = " ".join([q, *bridged.values()])
    passages = retrieve(lexical_query, qvec, store, alpha=cfg.alpha(language), candidates=cfg.candidates)
    question_terms = cache(lambda: engine.embedder.embed_sparse([q]))  # one extra model pass at most
    passages = _latent_terms(question_terms, passages, engine, store)
    t1 = time.perf_counter()
    kind = expected_type(q)
    sentence_alpha = cfg.alpha(language) * cfg.sentence_lexical_scale  # within one topic, shared names mislead
    ranked = score_sentences(lexical_query, passages, qvec, store, alpha=sentence_alpha,
                             passages_used=cfg.passages_used, sentence_weight=cfg.sentence_weight,
                             kind=kind, type_weight=cfg.type_weight)
    # support is judged on the pipeline's own order, as eval.calibrate fitted it; the reader only reorders
    strength = _support(ranked, q if language in cfg.coverage_languages else None, store, cfg, kind, bridged)
    strength, overlap = _latent_support(strength, ranked, language, question_terms, engine, store)
    judged = None
    if engine.reader is not None and cfg.reader_candidates > 0 and ranked:  # it reorders the best few, judges them
        ranked, judged = rerank(q, ranked, store, engine.reader, candidates=cfg.reader_candidates,
                                weight=cfg.reader_weight, gap=cfg.reader_gap, judge=cfg.reader_judges())
    citations = cite(ranked, store, top_k or cfg.top_k)
    abstained = not citations or strength < cfg.abstain_threshold(language)
    abstained = abstained or (judged is not None and judged.best < cfg.reader_threshold(language))
    text = compose(citations, language, abstained=abstained)
    marked = (highlight(citations[0], kind, lexical_query, store.lowercase_words)
              if citations and not abstained else None)
    t2 = time.perf_counter()
    timings = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
    return Answer(answer=text, language=language, abstained=abstained, citations=citations,
                  timings_ms={k: round(v, 2) for k, v in timings.items()},
                  passages=tuple(passages), support=round(strength, 4), latent_overlap=overlap, highlight=marked,
                  reader=judged.best if judged else None)


def warm_up(engine: Engine) -> None:
    """Answer one question so the first user doesn't pay for lazy loads (language model, caches)."""
    if engine.store is not None:
        answer("Apa isi dokumen ini?", engine)
        engine.store.lowercase_words  # noqa: B018 - computed once here, not on the first "who" question
