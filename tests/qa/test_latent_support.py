"""Latent terms in English support: what they add, and that the extra model pass is paid only when it can matter."""
import copy
from dataclasses import replace

import pytest
from conftest import CountingEmbedder

from qa.engine import Engine
from qa.pipeline import answer

ON_TOPIC = "Who is the UNIDO representative for Indonesia?"
OFF_TOPIC = "Who won the 2018 FIFA World Cup?"


def engine_with(engine, store=None, **changes):
    counting = CountingEmbedder(engine.embedder)
    return Engine(counting, replace(engine.config, **changes), store or engine.store), counting


def plain_support(engine, question):
    return answer(question, engine_with(engine, latent_support_weight=0.0)[0]).support


def test_english_support_adds_the_weighted_overlap(engine):
    plain = plain_support(engine, ON_TOPIC)
    full = answer(ON_TOPIC, engine_with(engine, latent_support_gate=False)[0])
    assert 0 < full.latent_overlap <= 1
    assert full.support == pytest.approx(plain + 0.1 * full.latent_overlap, abs=2e-4)


def test_the_answering_sentence_shares_more_latent_terms_than_an_off_topic_match(engine):
    eng, _ = engine_with(engine, latent_support_gate=False)
    on, off = answer(ON_TOPIC, eng), answer(OFF_TOPIC, eng)
    assert "Esam Alqararah" in on.citations[0].text
    assert on.latent_overlap > off.latent_overlap + 0.1


@pytest.mark.parametrize("offset, computed, abstains", [
    (0.05, True, None),  # within the weight below the threshold: the overlap decides
    (-0.01, False, False),  # already above: answered without the extra pass
    (0.2, False, True),  # even a full overlap could not lift it: abstains without the extra pass
])
def test_the_extra_pass_runs_only_when_it_can_change_the_decision(engine, offset, computed, abstains):
    plain = plain_support(engine, ON_TOPIC)
    eng, counting = engine_with(engine, abstain_threshold_en=plain + offset)
    ans = answer(ON_TOPIC, eng)
    assert counting.sparse_calls == int(computed)
    assert (ans.latent_overlap is not None) == computed
    if abstains is not None:
        assert ans.abstained == abstains and ans.support == pytest.approx(plain, abs=1e-4)


def test_indonesian_questions_never_pay_for_it(engine):
    eng, counting = engine_with(engine, latent_support_gate=False)
    ans = answer("Siapa perwakilan UNIDO untuk Indonesia?", eng)
    assert counting.sparse_calls == 0 and ans.latent_overlap is None


def test_without_sentence_terms_the_fitted_stand_in_is_used(engine):
    old_index = copy.copy(engine.store)
    old_index.sentence_sparse = None  # as in an index built before v4
    plain = plain_support(engine, ON_TOPIC)
    eng, counting = engine_with(engine, store=old_index, latent_support_gate=False, latent_support_missing=0.5)
    ans = answer(ON_TOPIC, eng)
    assert counting.sparse_calls == 0 and ans.latent_overlap == 0.5  # reported, so calibration can take it off
    assert ans.support == pytest.approx(plain + 0.1 * 0.5, abs=2e-4)
