"""Speaker-level statistics: WER aggregates (checked against fairlearn), bootstrap CIs, gap, permutation test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame

from engine.fairness import stats


def wer_metric(errors_and_words: np.ndarray, _unused: np.ndarray) -> float:
    """A MetricFrame metric: y_true carries errors, y_pred carries words (MetricFrame only slices them)."""
    return float(np.sum(errors_and_words) / np.sum(_unused))


def test_group_wer_equals_sum_errors_over_sum_words_as_fairlearn_computes_it():
    rng = np.random.default_rng(3)
    words = rng.integers(5, 300, 400).astype(float)
    errors = rng.binomial(words.astype(int), 0.2).astype(float)
    groups = rng.integers(0, 5, 400)
    result = stats.group_wer_with_ci(errors, words, groups, 5, n_boot=200)
    frame = MetricFrame(metrics=wer_metric, y_true=errors, y_pred=words, sensitive_features=pd.Series(groups, name="g"))
    assert np.allclose(result["wer"], frame.by_group.sort_index().to_numpy())
    assert stats.corpus_wer(errors, words) == pytest.approx(frame.overall)
    # the mean of per-speaker WERs is a different (wrong) number; make sure we did not compute that
    assert not np.isclose(stats.corpus_wer(errors, words), np.mean(errors / words))


def test_bootstrap_ci_brackets_the_estimate_and_narrows_with_more_speakers():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 4000):
        words = rng.integers(50, 100, n).astype(float)
        errors = rng.binomial(words.astype(int), rng.uniform(0.05, 0.4, n)).astype(float)
        r = stats.group_wer_with_ci(errors, words, np.zeros(n, np.int64), 1, n_boot=500)
        assert r["ci_low"][0] < r["wer"][0] < r["ci_high"][0]
        widths.append(r["ci_high"][0] - r["ci_low"][0])
    assert widths[1] < widths[0] / 5


def test_bootstrap_resamples_speakers_not_utterances():
    # Two speakers, one perfect and one always wrong: resampling speakers gives WER 0 or 1 in some replicates.
    reps = stats.bootstrap_group_wer(
        np.array([0.0, 100.0]), np.array([100.0, 100.0]), np.zeros(2, np.int64), 1, n_boot=400
    )
    assert set(np.round(np.unique(reps), 3)) == {0.0, 0.5, 1.0}


def test_gap_pct_is_the_hand_computation():
    assert stats.gap_pct(0.30, 0.20) == pytest.approx(50.0)
    assert stats.gap_pct(0.15, 0.20) == pytest.approx(-25.0)


def test_permutation_p_value_separates_a_real_gap_from_none():
    rng = np.random.default_rng(1)
    words = np.full(200, 100.0)
    labels = np.repeat([0, 1], 100)

    def gap(e, w):
        return e[1] / w[1] - e[0] / w[0]

    real = rng.binomial(100, np.where(labels == 1, 0.3, 0.2)).astype(float)
    none = rng.binomial(100, 0.2, 200).astype(float)
    assert stats.permutation_p_value(real, words, labels, 2, gap, n_perm=199) < 0.01
    assert stats.permutation_p_value(none, words, labels, 2, gap, n_perm=199) > 0.05
