"""Where each turn starts, LibriCSS-style: gaps for 0S/0L, a target overlap ratio for OV10-OV40.

Overlap ratio = time with two or more talkers / time with at least one talker. For consecutive turns
j-1, j with overlap o_j the ratio is Σo / (Σd - Σo), so the total overlap a condition needs is
r/(1+r)·Σd. At most two talkers at once holds when, for every turn j, the overlap at its head plus the
overlap at its tail leave part of it alone: o_j + o_{j+1} <= d_j - margin.
"""

from __future__ import annotations

import numpy as np

CONDITIONS = ("0S", "0L", "OV10", "OV20", "OV30", "OV40")
GAPS_S = {"0S": (0.1, 0.5), "0L": (2.9, 3.0)}
SOLO_MARGIN_S = 0.2  # each turn keeps at least this long with no overlap at either end
# With three talkers allowed, this share of turns starts inside the previous two turns' overlap.
TRIPLE_SHARE = 0.3


def overlap_target(condition: str) -> float:
    return int(condition[2:]) / 100 if condition.startswith("OV") else 0.0


def _allocate_overlaps(durations: np.ndarray, total: float, rng: np.random.Generator) -> np.ndarray:
    """o[j] = overlap of turn j with turn j-1 (o[0] = 0), summing to `total` where feasible."""
    n = len(durations)
    if n < 2 or total <= 0:
        return np.zeros(n)
    # First pass: random shares, each at most half of either neighbour (always feasible).
    caps = 0.5 * np.minimum(durations[:-1], durations[1:]) - SOLO_MARGIN_S / 2
    caps = np.maximum(caps, 0.0)
    weights = rng.uniform(0.3, 1.7, n - 1)
    lo, hi = 0.0, total / weights.min() + 1.0
    for _ in range(60):  # bisection on the scale of the shares
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(caps, mid * weights).sum() < total else (lo, mid)
    random_share = np.zeros(n + 1)
    random_share[1:n] = np.minimum(caps, hi * weights)
    if random_share.sum() >= total - 1e-9:
        return random_share[:n]
    # The caps were too tight: blend towards the largest feasible allocation. A blend of two feasible
    # allocations is feasible (the constraints are linear), and the blend weight hits the total exactly.
    largest = _largest_overlaps(durations)
    gap = largest.sum() - random_share.sum()
    blend = min(1.0, (total - random_share.sum()) / gap) if gap > 0 else 0.0
    return (random_share + blend * (largest - random_share))[:n]


def _largest_overlaps(durations: np.ndarray) -> np.ndarray:
    """The most total overlap the two-talker constraints allow (greedy from the first turn is optimal
    on a chain: each overlap takes all the room its earlier neighbour leaves)."""
    n = len(durations)
    room = np.maximum(durations - SOLO_MARGIN_S, 0.0)
    largest = np.zeros(n + 1)
    for j in range(1, n):
        largest[j] = min(room[j - 1] - largest[j - 1], room[j])
    return largest


def feasible(durations_s: list[float], condition: str) -> bool:
    """Whether turns of these lengths, in this order, can reach the condition's overlap ratio."""
    r = overlap_target(condition)
    d = np.asarray(durations_s, dtype=float)
    return r == 0 or _largest_overlaps(d).sum() >= r / (1 + r) * d.sum() - 1e-9


def place_turns(
    durations: list[int],
    condition: str,
    sample_rate: int,
    lead_in: int,
    rng: np.random.Generator,
    speakers: list[int],
    max_concurrent: int = 2,
) -> list[int]:
    """Start sample of each turn (durations in samples, consecutive speakers differ)."""
    d = np.asarray(durations, dtype=float) / sample_rate
    starts = [lead_in]
    if condition in GAPS_S:
        low, high = GAPS_S[condition]
        for j in range(1, len(durations)):
            starts.append(starts[-1] + durations[j - 1] + int(round(rng.uniform(low, high) * sample_rate)))
        return starts
    r = overlap_target(condition)
    overlaps = _allocate_overlaps(d, r / (1 + r) * d.sum(), rng)
    for j in range(1, len(durations)):
        starts.append(starts[-1] + durations[j - 1] - int(round(overlaps[j] * sample_rate)))
    if max_concurrent >= 3:
        _add_triple_overlaps(starts, durations, speakers, rng)
    return starts


def _add_triple_overlaps(
    starts: list[int], durations: list[int], speakers: list[int], rng: np.random.Generator
) -> None:
    """Move some turns earlier, into the overlap of the two before them (a third talker joins)."""
    j = 2
    while j < len(starts):
        end_before_last = starts[j - 2] + durations[j - 2]
        if (
            speakers[j] not in (speakers[j - 1], speakers[j - 2])
            and end_before_last > starts[j - 1]
            and rng.random() < TRIPLE_SHARE
        ):
            starts[j] = (starts[j - 1] + end_before_last) // 2
            j += 2  # never two moved turns in a row: at most three talkers at once
        else:
            j += 1


def activity_ratios(spans: list[tuple[float, float]]) -> tuple[float, int]:
    """(overlap ratio, most simultaneous talkers) of (start, end) spans."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    active, most, last, speech, overlap = 0, 0, None, 0.0, 0.0
    for t, step in events:
        if last is not None and active > 0:
            speech += t - last
            if active > 1:
                overlap += t - last
        active += step
        most = max(most, active)
        last = t
    return (overlap / speech if speech else 0.0), most
