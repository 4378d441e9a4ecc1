"""Turn metrics: does a system find as many turns as there are, and how early or late does it mark them.

Hypothesis turns are matched one-to-one to reference turns by the largest total time overlap (Hungarian);
pairs that do not overlap at all are not matches. For SST the turn times are its `<sot>`/`<eot>` emission
times; for the cascade they are the times its segments are emitted with. Latency = emission - reference
(positive = late).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

Span = tuple[float, float]


def match_turns(reference: list[Span], hypothesis: list[Span]) -> list[tuple[int, int]]:
    """(reference index, hypothesis index) pairs that overlap in time, maximising total overlap."""
    if not reference or not hypothesis:
        return []
    ref, hyp = np.asarray(reference, float), np.asarray(hypothesis, float)
    overlap = np.clip(
        np.minimum(ref[:, None, 1], hyp[None, :, 1]) - np.maximum(ref[:, None, 0], hyp[None, :, 0]), 0.0, None
    )
    rows, cols = linear_sum_assignment(-overlap)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if overlap[r, c] > 0]


@dataclass(frozen=True)
class LatencyStats:
    n: int
    mean: float | None
    p50: float | None
    p90: float | None
    share_early: float | None  # share of matched turns marked before the reference time

    @classmethod
    def of(cls, values: list[float]) -> LatencyStats:
        if not values:
            return cls(0, None, None, None, None)
        v = np.asarray(values, float)
        return cls(
            len(v), float(v.mean()), float(np.percentile(v, 50)), float(np.percentile(v, 90)), float(np.mean(v < 0))
        )


@dataclass(frozen=True)
class SessionTurnScores:
    ref_turns: int
    hyp_turns: int
    start_latencies: list[float]
    end_latencies: list[float]

    @property
    def count_correct(self) -> bool:
        return self.ref_turns == self.hyp_turns


def session_turn_scores(reference: list[Span], hypothesis: list[Span]) -> SessionTurnScores:
    pairs = match_turns(reference, hypothesis)
    return SessionTurnScores(
        len(reference),
        len(hypothesis),
        [hypothesis[h][0] - reference[r][0] for r, h in pairs],
        [hypothesis[h][1] - reference[r][1] for r, h in pairs],
    )


def summarise(sessions: list[SessionTurnScores]) -> dict:
    """Turn counting accuracy (share of sessions with the right number of turns) and latency stats."""
    return {
        "sessions": len(sessions),
        "count_correct": sum(s.count_correct for s in sessions),
        "turn_count_accuracy": (sum(s.count_correct for s in sessions) / len(sessions)) if sessions else None,
        "ref_turns": sum(s.ref_turns for s in sessions),
        "hyp_turns": sum(s.hyp_turns for s in sessions),
        "start_latency": LatencyStats.of([x for s in sessions for x in s.start_latencies]).__dict__,
        "end_latency": LatencyStats.of([x for s in sessions for x in s.end_latencies]).__dict__,
    }
