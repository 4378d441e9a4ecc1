"""Two systems on the same groups of speakers: numbers by hand, a paired difference, refusal of other speakers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import UserError
from engine.fairness import compare


def test_side_by_side_measures_both_systems_on_the_same_speakers():
    rng = np.random.default_rng(0)
    words = rng.integers(40, 80, 60).astype(float)
    errors_a = rng.binomial(words.astype(int), 0.2).astype(float)
    errors_b = np.maximum(errors_a - 3, 0)  # B makes 3 fewer errors per speaker
    groups = [list(range(0, 20)), list(range(20, 60)), [5, 25]]
    table = compare.side_by_side(errors_a, words, errors_b, words, groups, n_boot=300)
    for i, g in enumerate(groups):
        assert table["wer_a"][i] == pytest.approx(errors_a[g].sum() / words[g].sum())
        assert table["wer_b"][i] == pytest.approx(errors_b[g].sum() / words[g].sum())
        assert table["n_speakers"][i] == len(g) and table["words_b"][i] == words[g].sum()
        assert table["ci_low_a"][i] <= table["wer_a"][i] <= table["ci_high_a"][i]
    # paired: B is better for every speaker, so every resample sees it; the difference CI stays below 0
    assert (table["diff_ci_high"][:2] < 0).all()
    width = table["diff_ci_high"] - table["diff_ci_low"]
    assert (width[:2] < (table["ci_high_a"] - table["ci_low_a"])[:2]).all()  # narrower than one system alone
    same = compare.side_by_side(errors_a, words, errors_a, words, groups, n_boot=100)
    assert (same["diff_ci_low"] == 0).all() and (same["diff_ci_high"] == 0).all()


def test_a_system_on_other_speakers_is_refused_in_one_sentence():
    a = pd.DataFrame({"speaker_key": ["s1", "s2", "s3"], "errors": [1, 2, 3], "words": [10, 10, 10]})
    b = pd.DataFrame({"speaker_key": ["s3", "s1", "s2"], "errors": [0, 5, 6], "words": [10, 10, 10]})
    assert compare.aligned(a, b, "B")["errors"].tolist() == [5, 6, 0]  # in A's order
    with pytest.raises(UserError, match="'B' does not hold the same speakers \\(1 of 3 are missing, e.g. s3\\)"):
        compare.aligned(a, b[b["speaker_key"] != "s3"], "B")
    assert compare.positions([7, 9, 11], [[11, 7], [9, 99]]) == [[2, 0], [1]]
