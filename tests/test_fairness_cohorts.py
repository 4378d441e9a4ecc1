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
    errors = np.array(
        [sum(a != b for a, b in zip(r.split(), h.split())) for r, h in zip(u["reference"], u["hypothesis"])]
    )
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
    attrs = pd.DataFrame(
        {
            "language": rng.choice(["english", "spanish", "mandarin", "arabic"], n),
            "sex": rng.choice(["female", "male"], n),
            "age": rng.integers(18, 80, n).astype(float),
            "town": rng.choice([f"town{i}" for i in range(60)], n),
        }
    )  # many values, no effect
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
    # 60 towns of ~8 speakers: no side of at most 3 named towns holds 10 % of the speakers, so no "cohort"
    assert "town" not in by_attribute
    assert {row["language"] for row in result.extras["intersections"]} == {"english", "spanish", "mandarin", "arabic"}


def test_small_cohorts_are_flagged_not_dropped_and_gap_against_top():
    rng = np.random.default_rng(5)
    embeddings = np.vstack(
        [
            rng.normal(0, 0.1, (60, 8)) + 5,
            rng.normal(0, 0.1, (60, 8)) - 5,
            rng.normal(0, 0.1, (4, 8)) + [5, -5, 5, -5, 5, -5, 5, -5],
        ]
    )
    words = np.full(124, 100.0)
    errors = np.concatenate([np.full(60, 10.0), np.full(60, 20.0), np.full(4, 60.0)])
    result = automatic(
        embeddings, errors, words, CohortParams(k=3, min_speakers=10, gap_reference="top", n_perm=99, n_boot=200)
    )
    small = [c for c in result.cohorts if c.small]
    assert len(small) == 1 and small[0].n_speakers == 4 and not small[0].is_bottom
    bottom = result.bottom
    assert bottom.wer == pytest.approx(0.2)
    assert bottom.wer_gap_pct == pytest.approx(100 * (0.2 - 0.1) / 0.1)  # against the best (top) cohort


def planted_states(seed: int = 3):
    """200 US speakers in four states (TX raised) and 100 speakers outside the USA, the worst of all."""
    rng = np.random.default_rng(seed)
    state = np.array(["CA"] * 50 + ["TX"] * 50 + ["NY"] * 50 + ["IL"] * 50 + [None] * 100, dtype=object)
    rate = np.select([state == "TX", pd.isna(state)], [0.30, 0.50], 0.10)
    words = np.full(len(state), 60.0)
    errors = rng.binomial(60, rate).astype(float)
    return pd.DataFrame({"geo_us_state": state}), errors, words


def test_speakers_without_an_area_are_their_own_group_never_inside_the_bottom_cohort():
    attrs, errors, words = planted_states()
    result = geodemographic(attrs, errors, words, CohortParams(n_perm=99, n_boot=200))
    bottom, rest, outside = result.cohorts
    assert bottom.is_bottom and bottom.label == "US state: TX" and bottom.n_speakers == 50
    assert rest.label == "US state: CA, IL, NY" and rest.n_speakers == 150
    assert outside.label == "no US state (outside the USA, or not located)" and not outside.compared
    assert outside.n_speakers == 100 and outside.wer_gap_pct is None and not outside.is_bottom
    # the gap compares TX with the other states only, not with the speakers outside the USA
    tx, others = np.arange(50, 100), np.r_[0:50, 100:200]
    wer_tx, wer_others = errors[tx].sum() / words[tx].sum(), errors[others].sum() / words[others].sum()
    assert bottom.wer_gap_pct == pytest.approx(100 * (wer_tx - wer_others) / wer_others)
    assert bottom.share_pct == pytest.approx(100 * 50 / 300)


def test_a_handful_of_speakers_is_not_compared_with_everyone_else():
    rng = np.random.default_rng(4)
    state = np.array(["WY"] * 10 + ["CA"] * 95 + ["NY"] * 95, dtype=object)
    words = np.full(len(state), 60.0)
    errors = rng.binomial(60, np.where(state == "WY", 0.6, 0.1)).astype(float)
    attrs = pd.DataFrame({"geo_us_state": state})
    loose = geodemographic(attrs, errors, words, CohortParams(min_share_pct=0, n_perm=19, n_boot=50))
    assert loose.bottom.label == "US state: WY" and loose.bottom.n_speakers == 10  # what it used to do
    strict = geodemographic(attrs, errors, words, CohortParams(n_perm=19, n_boot=50))
    sides = [c for c in strict.cohorts if c.compared]
    assert min(c.n_speakers for c in sides) >= 20  # ≥ 10 % of the 200 speakers on both sides


def test_the_stored_analysis_states_what_the_bottom_cohort_is_compared_with(db_url):
    from engine.fairness import analyses
    from engine.fairness.importing import import_frame

    attrs, errors, words = planted_states()
    vocabulary = [f"w{i}" for i in range(60)]
    rows = []
    for i, (state, e) in enumerate(zip(attrs["geo_us_state"], errors.astype(int))):
        hypothesis = ["x"] * e + vocabulary[e:]  # exactly e substitutions of 60 words
        rows.append(
            {
                "utterance_id": f"u{i}",
                "speaker_id": f"s{i}",
                "reference": " ".join(vocabulary),
                "hypothesis": " ".join(hypothesis),
                "us_state": state or "",
            }
        )
    import_frame(pd.DataFrame(rows), "states", url=db_url)
    summary = analyses.run_cohorts("states", "geodemographic", CohortParams(n_perm=99, n_boot=200), url=db_url).summary
    assert summary["bottom_definition"] == "us state: TX" and summary["bottom_speakers"] == 50
    assert summary["rest_definition"] == "us state: CA, IL, NY" and summary["rest_speakers"] == 150
    assert summary["outside"] == [{"label": "no us state given", "n_speakers": 100}]
    others = np.r_[0:50, 100:200]
    assert summary["rest_wer"] == pytest.approx(errors[others].sum() / words[others].sum())
