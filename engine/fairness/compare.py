"""Two systems on the same groups of speakers: WER and CI of each side by side, and the difference.

Two evaluation sets are comparable when they hold the same speakers (speaker ids as imported), e.g. the
demo's Whisper and pocketsphinx sets. The groups (regions, cohorts) come from an analysis of system A; both
systems are then measured on exactly those speakers. The bootstrap is paired: each replicate resamples the
group's speakers once and measures both systems on that resample, so the CI of the difference is not the
(wider) one of two independent samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.errors import UserError
from engine.fairness import stats


def aligned(totals_a: pd.DataFrame, totals_b: pd.DataFrame, name_b: str) -> pd.DataFrame:
    """System B's per-speaker totals in the row order of A's (matched by speaker_key).

    UserError when B lacks any of A's speakers: a comparison over different people would measure them,
    not the systems."""
    b = totals_b.set_index("speaker_key")
    missing = ~totals_a["speaker_key"].isin(b.index)
    if missing.any():
        raise UserError(
            f"'{name_b}' does not hold the same speakers ({int(missing.sum())} of "
            f"{len(totals_a)} are missing, e.g. {totals_a['speaker_key'][missing].iloc[0]}); "
            "pick a set built from the same recordings."
        )
    return b.loc[totals_a["speaker_key"], ["errors", "words"]].reset_index()


def side_by_side(
    errors_a: np.ndarray,
    words_a: np.ndarray,
    errors_b: np.ndarray,
    words_b: np.ndarray,
    groups: Sequence[Sequence[int]],
    n_boot: int = stats.DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group (speaker positions): WER, CI of A and of B, B − A with its paired CI, speakers, words of each.

    A speaker may be in no group (not located, say); a speaker in two groups is counted in both."""
    rows = np.concatenate([np.asarray(g, np.int64) for g in groups]) if groups else np.array([], np.int64)
    labels = np.concatenate([np.full(len(g), i, np.int64) for i, g in enumerate(groups)]) if groups else rows
    n_groups = len(groups)
    out = {}
    replicates = {}
    for side, errors, words in (("a", errors_a, words_a), ("b", errors_b, words_b)):
        e, w = np.asarray(errors, float)[rows], np.asarray(words, float)[rows]
        err, wrd, spk = stats.group_totals(e, w, labels, n_groups)
        # the same seed and the same groups draw the same speakers for both systems: a paired bootstrap
        replicates[side] = stats.bootstrap_group_wer(e, w, labels, n_groups, n_boot, seed)
        low, high = stats.percentile_ci(replicates[side])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"wer_{side}"] = err / wrd
        out[f"ci_low_{side}"], out[f"ci_high_{side}"] = low, high
        out[f"words_{side}"] = wrd.astype(np.int64)
        out["n_speakers"] = spk
    diff_low, diff_high = stats.percentile_ci(replicates["b"] - replicates["a"])
    frame = pd.DataFrame(out)
    frame["diff"] = frame["wer_b"] - frame["wer_a"]
    frame["diff_ci_low"], frame["diff_ci_high"] = diff_low, diff_high
    return frame


def positions(speaker_ids: Sequence[int], groups_of_ids: Sequence[Sequence[int]]) -> list[list[int]]:
    """Each group of stored speaker ids as positions into `speaker_ids` (the row order of speaker totals);
    ids not in `speaker_ids` (speakers filtered out) are skipped."""
    where = {int(sid): i for i, sid in enumerate(speaker_ids)}
    return [[where[int(s)] for s in group if int(s) in where] for group in groups_of_ids]
