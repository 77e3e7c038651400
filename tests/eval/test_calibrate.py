"""Abstention thresholds: fitted per language, bounded on every corpus."""
import numpy as np

from eval.calibrate import fit_per_language, fit_threshold


def test_fit_threshold_allows_one_false_abstention_per_30():
    pos = np.linspace(0.80, 0.99, 60)  # 60 answerable: 2 may fall below the threshold
    fit = fit_threshold(pos, np.array([0.70, 0.805, 0.9]))
    assert fit["false_abstentions"] == 2 and fit["threshold"] == round(pos[2] - 1e-4, 4)
    assert fit["abstention_recall"] == 2 / 3


def test_each_language_takes_the_lowest_group_threshold():
    found = {
        "wiki": (True, [("id", s) for s in np.linspace(0.95, 1.05, 30)] + [("en", s) for s in np.linspace(0.8, 0.9, 30)]),
        "news": (True, [("id", s) for s in np.linspace(0.86, 0.96, 30)]),
        "off-topic": (False, [("id", 0.8), ("id", 0.9), ("en", 0.7)]),
    }
    fits = fit_per_language(found)
    assert 0.86 < fits["id"]["threshold"] < 0.87  # the news corpus bounds it, not the wiki one
    assert fits["id"]["abstention_recall"] == 0.5
    assert 0.80 < fits["en"]["threshold"] < 0.81 and fits["en"]["abstention_recall"] == 1.0
