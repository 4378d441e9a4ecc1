"""Equal error rate from target / non-target scores, verification trials, and bootstrap CIs over speakers.

EER is exact: all scores are sorted once, the miss rate (targets below the threshold) and the false-alarm rate
(non-targets at or above it) are evaluated at every threshold between distinct scores, and the EER is read where
the two piecewise-linear curves cross (linear interpolation between the last cut with FA > miss and the first with
FA ≤ miss). Scores may carry weights: a bootstrap replicate weights each trial by how often its speakers were
drawn, so the sort is done once per trial list, not once per replicate.

Trials: each held-out speaker has K enrolment crops from the first half of its recording and K test crops from
the second half (non-overlapping, different words). Target trials: a speaker's K×K enrolment-test pairs.
Non-target trials: speaker a's enrolment crops against speaker b's test crops, for every ordered pair a ≠ b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.fairness.stats import percentile_ci


def eer(
    target_scores: np.ndarray,
    nontarget_scores: np.ndarray,
    target_weights: np.ndarray | None = None,
    nontarget_weights: np.ndarray | None = None,
) -> float:
    """EER in [0, 1] (nan without targets or non-targets); higher score = more likely the same speaker."""
    target_scores = np.asarray(target_scores, dtype=np.float64)
    nontarget_scores = np.asarray(nontarget_scores, dtype=np.float64)
    scores = np.concatenate([target_scores, nontarget_scores])
    is_target = np.concatenate([np.ones(len(target_scores), bool), np.zeros(len(nontarget_scores), bool)])
    weights = np.concatenate(
        [
            np.ones(len(target_scores)) if target_weights is None else np.asarray(target_weights, dtype=np.float64),
            np.ones(len(nontarget_scores)) if nontarget_weights is None else np.asarray(nontarget_weights, np.float64),
        ]
    )
    sorted_trials = SortedScores(scores, is_target)
    return sorted_trials.eer(weights[sorted_trials.order])


class SortedScores:
    """Scores sorted once; `eer(weights_in_sorted_order)` then costs O(n) per call."""

    def __init__(self, scores: np.ndarray, is_target: np.ndarray):
        self.order = np.argsort(scores, kind="stable")
        sorted_scores = np.asarray(scores)[self.order]
        self.is_target = np.asarray(is_target, bool)[self.order]
        # Cut k puts the threshold above the first k sorted scores; tied scores are never split.
        self.cuts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_scores) > 0) + 1, [len(sorted_scores)]))
        # Targets are few (n·K² against n²·K²): their running sum is taken over their own positions only.
        self.target_positions = np.flatnonzero(self.is_target)
        self._targets_before_cut = np.searchsorted(self.target_positions, self.cuts)

    def eer(self, weights: np.ndarray) -> float:
        all_before = np.concatenate(([0.0], np.cumsum(weights)))[self.cuts]
        target_before = np.concatenate(([0.0], np.cumsum(weights[self.target_positions])))[self._targets_before_cut]
        total_t = target_before[-1]
        total_n = all_before[-1] - total_t
        if total_t <= 0 or total_n <= 0:
            return float("nan")
        miss = target_before / total_t
        false_alarm = 1 - (all_before - target_before) / total_n
        diff = false_alarm - miss  # 1 at the first cut, −1 at the last, never increasing
        k = int(np.argmax(diff <= 0))
        alpha = diff[k - 1] / (diff[k - 1] - diff[k])
        return float(miss[k - 1] + alpha * (miss[k] - miss[k - 1]))


@dataclass
class Trials:
    """Verification trials over n speakers: scores (m,), enrolment speaker a (m,), test speaker b (m,)."""

    scores: np.ndarray
    speaker_a: np.ndarray
    speaker_b: np.ndarray

    @property
    def is_target(self) -> np.ndarray:
        return self.speaker_a == self.speaker_b

    def within(self, speakers: np.ndarray) -> "Trials":
        """The trials whose two speakers are both among `speakers` (indices)."""
        member = np.zeros(max(self.speaker_a.max(initial=-1), self.speaker_b.max(initial=-1)) + 1, bool)
        member[speakers] = True
        keep = member[self.speaker_a] & member[self.speaker_b]
        return Trials(self.scores[keep], self.speaker_a[keep], self.speaker_b[keep])

    def eer(self) -> float:
        target = self.is_target
        return eer(self.scores[target], self.scores[~target])


def build_trials(enrolment: np.ndarray, test: np.ndarray) -> Trials:
    """enrolment, test: (n speakers, K crops, D) L2-normalised embeddings → cosine-scored trials.

    n·K² target trials and n·(n−1)·K² non-target trials.
    """
    n, k, _ = enrolment.shape
    scores = np.einsum("aid,bjd->abij", enrolment, test).astype(np.float64)  # (n, n, K, K)
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return Trials(scores.reshape(-1), np.repeat(a.reshape(-1), k * k), np.repeat(b.reshape(-1), k * k))


def bootstrap_eers(trials: Trials, strata: list[np.ndarray], n_boot: int, seed: int) -> np.ndarray:
    """EER replicates, shape (n_boot, len(strata)): each stratum's speakers resampled with replacement, and its
    trials (within the stratum) rebuilt from the draw: a target trial counts c_s times, a non-target trial
    between two different drawn speakers c_a·c_b times (c = times drawn). The strata are drawn independently in
    the same replicate, so a gap between strata has a replicate of its own."""
    rng = np.random.default_rng(seed)
    prepared = []
    for members in strata:
        sub = trials.within(members)
        sorted_scores = SortedScores(sub.scores, sub.is_target)
        prepared.append(
            (members, sorted_scores, sub.speaker_a[sorted_scores.order], sub.speaker_b[sorted_scores.order])
        )
    n_speakers = max(trials.speaker_a.max(initial=-1), trials.speaker_b.max(initial=-1)) + 1
    out = np.full((n_boot, len(strata)), np.nan)
    for r in range(n_boot):
        for g, (members, sorted_scores, a, b) in enumerate(prepared):
            counts = np.bincount(rng.choice(members, size=len(members)), minlength=n_speakers)
            out[r, g] = sorted_scores.eer(resampled_weights(counts, a, b, sorted_scores.target_positions))
    return out


def resampled_weights(
    counts: np.ndarray, speaker_a: np.ndarray, speaker_b: np.ndarray, target_positions: np.ndarray
) -> np.ndarray:
    """How often each trial occurs in the trial list rebuilt from a speaker draw (counts: times each speaker was
    drawn): a target trial once per copy of its speaker, a non-target once per pair of copies (c_a·c_b). Two
    copies of one speaker give no extra trials: they are the same recording."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = counts[speaker_a] * counts[speaker_b]
    weights[target_positions] = counts[speaker_a[target_positions]]
    return weights


def replicate_ci(replicates: np.ndarray) -> tuple[float, float]:
    """95 % percentile CI of bootstrap replicates (n_boot,); NaN when no replicate has a value (a stratum of one
    speaker has no non-target trials), rather than numpy's all-NaN warning."""
    if not np.isfinite(replicates).any():
        return float("nan"), float("nan")
    low, high = percentile_ci(replicates)
    return float(low), float(high)


def eer_summary(trials: Trials, members: np.ndarray, replicates: np.ndarray) -> dict:
    """EER of the trials within `members`, its CI from that stratum's bootstrap replicates (n_boot,), and counts."""
    sub = trials.within(members)
    low, high = replicate_ci(replicates)
    n_target = int(sub.is_target.sum())
    return {
        "eer": sub.eer(),
        "ci_low": low,
        "ci_high": high,
        "n_speakers": int(len(members)),
        "n_target_trials": n_target,
        "n_nontarget_trials": int(len(sub.scores) - n_target),
    }
