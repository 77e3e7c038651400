"""AnswerConfig: the answering knobs, with the one copy of their defaults (Settings reads them here)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerConfig:
    """Answering knobs (taken from Settings at the entry point)."""

    top_k: int = 3
    candidates: int = 20
    alpha_id: float = 0.3
    alpha_en: float = 0.2
    abstain_threshold_id: float = 0.8394  # fitted by `python -m eval.calibrate`
    abstain_threshold_en: float = 0.8001
    passages_used: int = 5
    sentence_weight: float = 0.5
    sentence_lexical_scale: float = 0.25  # BM25 weight inside sentence selection, relative to the retrieval alpha
    type_weight: float = 0.5  # bonus for a sentence holding the asked-for kind of answer (qa.answer_type)
    type_penalty: float = 0.3  # support lost when a how-many/how-much question's best sentence has no figure
    # Support's lexical part, for these languages: the IDF-weighted share of question words the sentence
    # covers (qa/coverage.py; an English word counts as the corpus word qa.expand.bridge maps it to).
    # Other languages keep the capped BM25 bonus.
    coverage_languages: tuple[str, ...] = ("id", "en")
    support_coverage_weight: float = 0.1
    support_lexical_weight: float = 0.05  # see qa.select.support; fitted with eval/calibrate.py
    support_lexical_cap: float = 3.0
    sparse_weight: float = 0.5  # latent-term bonus in chunk ranking (qa.retrieve.add_latent_terms); 0 = off
    sparse_gate: float = 0.2  # ...paid for only when another document's chunk is this close (qa.retrieve.contested)
    # Support also counts the latent terms the question shares with its best sentence (qa.coverage.latent_overlap),
    # for English questions, whose bridged-word coverage misses most cross-lingual matches (docs/evaluation.md).
    latent_support_weight: float = 0.1
    latent_support_languages: tuple[str, ...] = ("en",)
    latent_support_gate: bool = True  # pay the extra model pass only when it can change the decision
    latent_support_missing: float = 0.17  # overlap assumed without latent terms (fitted by eval.calibrate)
    expand_threshold: float = 0.915  # cosine for mapping a question word onto a corpus word
    expand_languages: tuple[str, ...] = ("en",)
    max_question_chars: int = 2000
    # The learned reader (qa/reader.py): where the pipeline's first two sentences score within
    # `reader_gap` of each other, it reads the first `reader_candidates` and reorders them by its logit
    # plus `reader_weight` x their pipeline score; a best logit under the language's threshold abstains.
    # Fitted by `python -m eval.reader_fit` on each half of the dev sets (docs/reader.md): two
    # candidates, weight 8, gap 0.125 (read for ~40 % of questions), and no abstention from the reader
    # (a threshold that catches IDK-MRC's unanswerable questions also refuses Belebele's and the
    # seed set's answerable ones, which need inference rather than one answering sentence).
    reader_candidates: int = 2
    reader_weight: float = 8.0
    reader_gap: float = 0.125  # the reader reads only when the first two sentences' scores are closer than this
    reader_threshold_id: float = -99.0
    reader_threshold_en: float = -99.0
    max_question_tokens: int = 256  # model tokens, specials included (QA_MAX_QUESTION_TOKENS)

    def alpha(self, language: str) -> float:
        """BM25 weight for questions in `language`."""
        return self.alpha_en if language == "en" else self.alpha_id

    def reader_judges(self) -> bool:
        """Whether the reader's logit can abstain (a threshold is set), so it reads every answer."""
        return max(self.reader_threshold_id, self.reader_threshold_en) > -99.0

    def reader_threshold(self, language: str) -> float:
        """Minimum reader logit (best candidate) to answer a question in `language`."""
        return self.reader_threshold_en if language == "en" else self.reader_threshold_id

    def abstain_threshold(self, language: str) -> float:
        """Minimum support to answer a question in `language`."""
        return self.abstain_threshold_en if language == "en" else self.abstain_threshold_id


def config_from_settings(settings) -> AnswerConfig:
    """Answering knobs from a qa.settings.Settings (the one mapping: server, CLI, eval and bench use it)."""
    return AnswerConfig(top_k=settings.top_k, candidates=settings.candidates,
                        alpha_id=settings.fusion_alpha_id, alpha_en=settings.fusion_alpha_en,
                        abstain_threshold_id=settings.abstain_threshold_id,
                        abstain_threshold_en=settings.abstain_threshold_en,
                        sparse_weight=settings.sparse_weight, sparse_gate=settings.sparse_gate,
                        reader_candidates=settings.reader_candidates, reader_weight=settings.reader_weight,
                        reader_gap=settings.reader_gap,
                        reader_threshold_id=settings.reader_threshold_id,
                        reader_threshold_en=settings.reader_threshold_en,
                        max_question_tokens=settings.max_question_tokens)
