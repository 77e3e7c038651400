"""answer(): a question in, a grounded Answer out. Orchestration only."""
from __future__ import annotations

import time

from qa.compose import compose
from qa.engine import Engine
from qa.errors import InvalidQuestion
from qa.expand import expand
from qa.language import detect_language
from qa.retrieve import retrieve
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


def answer(question: str, engine: Engine, *, top_k: int | None = None) -> Answer:
    """Retrieve, pick supporting sentences, abstain if support is weak, compose the reply."""
    cfg = engine.config
    t0 = time.perf_counter()
    q = clean_question(question, cfg.max_question_chars)
    store = engine.require_store()  # read once: a concurrent swap can't mix two indexes
    language = detect_language(q)
    qvec = engine.embedder.embed_queries([q])[0]
    lexical_query = q
    if language in cfg.expand_languages:
        lexical_query = " ".join([q, *expand(q, store, engine.words, threshold=cfg.expand_threshold)])
    passages = retrieve(lexical_query, qvec, store, alpha=cfg.alpha(language), candidates=cfg.candidates)
    t1 = time.perf_counter()
    ranked = score_sentences(lexical_query, passages, qvec, store, alpha=cfg.alpha(language),
                             passages_used=cfg.passages_used, sentence_weight=cfg.sentence_weight)
    citations = cite(ranked, store, top_k or cfg.top_k)
    strength = support(ranked[0], lexical_weight=cfg.support_lexical_weight,
                       lexical_cap=cfg.support_lexical_cap) if ranked else 0.0
    abstained = not citations or strength < cfg.abstain_threshold
    text = compose(citations, language, abstained=abstained)
    t2 = time.perf_counter()
    timings = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
    return Answer(answer=text, language=language, abstained=abstained, citations=citations,
                  timings_ms={k: round(v, 2) for k, v in timings.items()},
                  passages=tuple(passages), support=round(strength, 4))
