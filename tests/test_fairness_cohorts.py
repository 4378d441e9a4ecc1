"""Cohort discovery: planted embedding cluster → automatic bottom cohort; gap and share by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.fairness.cohorts import CohortParams, automatic, geodemographic
from engine.fairness.synthetic import Plan, make_set


def per_speaker(synthetic):
    u = synthetic.utterances
    speaker = u["speaker_id"].str[1:].astype(int).to_numpy()
    errors = np.array([sum(a != b for a, b in zip(r.split(), h.split())) for r, h in zip(u["reference"], u["hypothesis"])])
    n = speaker.max() + 1
    return np.bincount(speaker, errors, n), np.bincount(speaker, np.full(len(u), 12.0), n)


def test_planted_embedding_cluster_is_the_automatic_bottom_cohort():
    synthetic = make_set(Plan(n_utterances=6_000, utterances_per_speaker=10, raised_cluster=2, seed=7))
    errors, words = per_speaker(synthetic)
    result = automatic(synthetic.speaker_embeddings, errors, words, CohortParams(k=6, n_perm=199, n_boot=300))
    bottom = result.bottom
    planted = np.flatnonzero(synthetic.speaker_cluster == 2)
    assert set(bottom.members.tolist()) == set(planted.tolist())
    assert result.p_value < 0.01
    # the headline numbers, by hand
    inside = np.isin(np.arange(len(errors)), planted)
    wer_bottom = errors[inside].sum() / words[inside].sum()
    wer_rest = errors[~inside].sum() / words[~inside].sum()
    assert bottom.wer == pytest.approx(wer_bottom)
    assert bottom.wer_gap_pct == pytest.approx(100 * (wer_bottom - wer_rest) / wer_rest)
    assert bottom.share_pct == pytest.approx(100 * len(planted) / len(errors))
    assert bottom.gap_ci[0] < bottom.wer_gap_pct < bottom.gap_ci[1]
    assert [c.label for c in result.cohorts] == [f"cluster {i}" for i in range(1, 7)]
    assert all(a.wer >= b.wer for a, b in zip(result.cohorts, result.cohorts[1:]))


def test_geodemographic_finds_the_raised_categories_and_the_hand_computed_gap():
    rng = np.random.default_rng(11)
    n = 500
    attrs = pd.DataFrame({"language": rng.choice(["english", "spanish", "mandarin", "arabic"], n),
                          "sex": rng.choice(["female", "male"], n), "age": rng.integers(18, 80, n).astype(float),
                          "town": rng.choice([f"town{i}" for i in range(60)], n)})  # many values, no effect
    words = rng.integers(40, 80, n).astype(float)
    raised = attrs["language"].isin(["mandarin", "arabic"]).to_numpy()
    errors = rng.binomial(words.astype(int), np.where(raised, 0.35, 0.15)).astype(float)
    result = geodemographic(attrs, errors, words, CohortParams(n_perm=199, n_boot=300))
    bottom = result.bottom
    assert bottom.definition == "language ∈ {arabic, mandarin}" or bottom.definition == "language ∈ {mandarin, arabic}"
    assert set(bottom.members.tolist()) == set(np.flatnonzero(raised).tolist())
    wer_b, wer_r = errors[raised].sum() / words[raised].sum(), errors[~raised].sum() / words[~raised].sum()
    assert bottom.wer_gap_pct == pytest.approx(100 * (wer_b - wer_r) / wer_r)
    assert bottom.share_pct == pytest.approx(100 * raised.sum() / n)
    assert result.p_value < 0.01
    by_attribute = {p["attribute"]: p for p in result.extras["partitions"]}
    assert result.extras["partitions"][0]["attribute"] == "language"
    assert by_attribute["language"]["p_value"] < 0.01
    assert by_attribute["town"]["p_value"] > 0.05  # a chance partition of 60 towns is told apart
    assert {row["language"] for row in result.extras["intersections"]} == {"english", "spanish", "mandarin", "arabic"}


def test_small_cohorts_are_flagged_not_dropped_and_gap_against_top():
    rng = np.random.default_rng(5)
    embeddings = np.vstack([rng.normal(0, 0.1, (60, 8)) + 5, rng.normal(0, 0.1, (60, 8)) - 5,
                            rng.normal(0, 0.1, (4, 8)) + [5, -5, 5, -5, 5, -5, 5, -5]])
    words = np.full(124, 100.0)
    errors = np.concatenate([np.full(60, 10.0), np.full(60, 20.0), np.full(4, 60.0)])
    result = automatic(embeddings, errors, words, CohortParams(k=3, min_speakers=10, gap_reference="top",
                                                               n_perm=99, n_boot=200))
    small = [c for c in result.cohorts if c.small]
    assert len(small) == 1 and small[0].n_speakers == 4 and not small[0].is_bottom
    bottom = result.bottom
    assert bottom.wer == pytest.approx(0.2)
    assert bottom.wer_gap_pct == pytest.approx(100 * (0.2 - 0.1) / 0.1)  # against the best (top) cohort
