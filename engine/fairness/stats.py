"""Speaker-level statistics: corpus WER, bootstrap CIs that resample speakers, permutation tests.

Everything works on per-speaker totals (errors, reference words): utterances of one speaker are not
independent, so the speaker is the unit that is resampled. WER is always Σ errors / Σ words.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BOOTSTRAP = 1000
CI_LEVEL = 0.95
# Bootstrap replicates drawn per block: bounds memory at (block × speakers) floats whatever the set size.
_BLOCK_CELLS = 4_000_000


def corpus_wer(errors: np.ndarray, words: np.ndarray) -> float:
    total_words = float(np.sum(words))
    return float(np.sum(errors)) / total_words if total_words > 0 else float("nan")


def group_totals(errors: np.ndarray, words: np.ndarray, groups: np.ndarray, n_groups: int):
    """Σ errors, Σ words and speaker count per group id (0..n_groups-1)."""
    return (
        np.bincount(groups, weights=errors, minlength=n_groups),
        np.bincount(groups, weights=words, minlength=n_groups),
        np.bincount(groups, minlength=n_groups),
    )


def bootstrap_group_wer(
    errors: np.ndarray,
    words: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap WER replicates, shape (n_boot, n_groups): each group's speakers resampled within the group.

    Vectorised over all groups at once: speakers are sorted by group, every replicate draws for each slot
    a uniform number that is mapped into its own group's index range, and group sums come from reduceat.
    """
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")
    # float32 gathers and int32 indices halve the memory traffic that dominates the cost; CI
    # endpoints do not need more than float32 precision.
    e_sorted = np.asarray(errors, dtype=np.float32)[order]
    w_sorted = np.asarray(words, dtype=np.float32)[order]
    g_sorted = groups[order]
    sizes = np.bincount(g_sorted, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    present = sizes > 0
    slot_start = starts[g_sorted].astype(np.int32)
    slot_size = sizes[g_sorted].astype(np.float32)
    slot_last = slot_start + sizes[g_sorted].astype(np.int32) - 1
    rng = np.random.default_rng(seed)
    out = np.full((n_boot, n_groups), np.nan)
    n = len(g_sorted)
    if n == 0:
        return out
    block = max(1, _BLOCK_CELLS // n)
    seg_starts = starts[present]
    for b0 in range(0, n_boot, block):
        b = min(block, n_boot - b0)
        picks = (rng.random((b, n), dtype=np.float32) * slot_size).astype(np.int32)
        picks += slot_start
        np.minimum(picks, slot_last, out=picks)  # float32 rounding can reach one past the end
        err = np.add.reduceat(e_sorted[picks], seg_starts, axis=1, dtype=np.float64)
        wrd = np.add.reduceat(w_sorted[picks], seg_starts, axis=1, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[b0 : b0 + b, present] = err / wrd
    return out


def percentile_ci(replicates: np.ndarray, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(replicates, [tail, 100 - tail], axis=0)
    return low, high


def group_wer_with_ci(
    errors: np.ndarray,
    words: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per group: errors, words, speakers, WER and its bootstrap CI over speakers."""
    err, wrd, spk = group_totals(errors, words, groups, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        wer = err / wrd
    low, high = percentile_ci(bootstrap_group_wer(errors, words, groups, n_groups, n_boot, seed))
    return {"errors": err, "words": wrd, "speakers": spk, "wer": wer, "ci_low": low, "ci_high": high}


def gap_pct(wer_group: np.ndarray | float, wer_reference: np.ndarray | float):
    """WER gap % = 100 · (WER_group − WER_reference) / WER_reference."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (np.asarray(wer_group) - np.asarray(wer_reference)) / np.asarray(wer_reference)


def bootstrap_gap_ci(
    errors: np.ndarray,
    words: np.ndarray,
    in_group: np.ndarray,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    level: float = CI_LEVEL,
) -> tuple[float, float]:
    """CI of the gap % between a group and everyone else, both sides resampled over their own speakers."""
    reps = bootstrap_group_wer(errors, words, np.asarray(in_group, dtype=np.int64), 2, n_boot, seed)
    low, high = percentile_ci(gap_pct(reps[:, 1], reps[:, 0]), level)
    return float(low), float(high)


def permutation_p_value(
    errors: np.ndarray,
    words: np.ndarray,
    labels: np.ndarray,
    n_labels: int,
    statistic,
    n_perm: int = 999,
    seed: int = 0,
) -> float:
    """Two-sided permutation p-value: speakers' (errors, words) shuffled across the label assignment.

    `statistic(err_per_label, words_per_label)` must return the gap being tested. It is recomputed on
    every permutation, so a statistic that *selects* (the worst cluster, the best partition) is tested
    with its selection included and the p-value is not optimistic.
    """
    errors = np.asarray(errors, dtype=np.float64)
    words = np.asarray(words, dtype=np.float64)
    observed = abs(statistic(*group_totals(errors, words, labels, n_labels)[:2]))
    rng = np.random.default_rng(seed)
    at_least = 0
    for _ in range(n_perm):
        perm = rng.permutation(len(errors))
        err = np.bincount(labels, weights=errors[perm], minlength=n_labels)
        wrd = np.bincount(labels, weights=words[perm], minlength=n_labels)
        at_least += abs(statistic(err, wrd)) >= observed - 1e-12
    return (at_least + 1) / (n_perm + 1)
