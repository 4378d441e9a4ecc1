"""Regions: a clustering tree over (lon, lat) that splits where recognition quality differs most.

Greedy recursive axis-aligned bisection (DESIGN.md "Regions"): every leaf proposes its best split, a
threshold between speakers' coordinates on longitude or latitude (at most `n_thresholds` candidates per
axis, at coordinate quantiles), scored by |WER(left) − WER(right)| with corpus WER on each side. Both
sides need `min_speakers` speakers and `min_words` reference words. The leaf whose best split scores
highest is split first (so `max_regions` keeps the most telling splits); with `alpha` set, a split is
kept only when a permutation test over speakers (re-running the threshold search) gives p < alpha. Leaves are regions.

Input is per-speaker totals, so a million utterances cost what their speakers cost.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace

import numpy as np

from engine.fairness import stats

LON_LAT_LIMITS = (-180.0, -90.0, 180.0, 90.0)
# Half-width (degrees) kept around a region's speakers when its cell is clipped to the data, so a
# region of one town still draws as a visible box.
CLIP_MARGIN_DEG = 0.5


@dataclass(frozen=True)
class RegionParams:
    min_speakers: int | None = None  # None: 2 % of the speakers, at least 10
    min_words: int = 200
    max_regions: int = 12
    n_thresholds: int = 32
    alpha: float | None = None  # None: no significance test per split
    n_perm: int = 199  # permutations per split test (with alpha)
    n_boot: int = stats.DEFAULT_BOOTSTRAP
    seed: int = 0


def auto_min_speakers(n_speakers: int) -> int:
    # Tiny regions win |ΔWER| by noise alone; a floor that grows with the set keeps splits meaningful.
    return max(10, n_speakers // 50)


@dataclass
class Region:
    speaker_index: np.ndarray  # positions into the input arrays
    cell: tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max of the tree cell
    clipped: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    errors: float = 0.0
    words: float = 0.0
    wer: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    rank: int = 0
    flagged: bool = False
    path: list[str] = field(default_factory=list)  # the split rules that lead here, for the definition

    @property
    def polygon(self) -> dict:
        x0, y0, x1, y1 = self.clipped
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@dataclass(frozen=True)
class _Split:
    score: float
    axis: int
    threshold: float
    left: np.ndarray
    right: np.ndarray


def _candidate_cuts(coords: np.ndarray, idx: np.ndarray, params: RegionParams):
    """Per axis: the speakers' sort order and the cut positions (thresholds between distinct coordinates)."""
    n = len(idx)
    out = []
    for axis in (0, 1):
        x = coords[idx, axis]
        order = np.argsort(x, kind="stable")
        xs = x[order]
        cut = np.flatnonzero(xs[1:] > xs[:-1]) + 1
        if len(cut) > params.n_thresholds:
            targets = np.linspace(0, n, params.n_thresholds + 2)[1:-1]
            cut = np.unique(cut[np.clip(np.searchsorted(cut, targets), 0, len(cut) - 1)])
        cut = cut[(cut >= params.min_speakers) & (n - cut >= params.min_speakers)]
        out.append((axis, order, xs, cut))
    return out


def _scores(e: np.ndarray, w: np.ndarray, order: np.ndarray, cut: np.ndarray, params: RegionParams) -> np.ndarray:
    """|WER(left) − WER(right)| for every cut (−1 where a side is below min_words)."""
    ce, cw = np.cumsum(e[order]), np.cumsum(w[order])
    le, lw = ce[cut - 1], cw[cut - 1]
    re, rw = ce[-1] - le, cw[-1] - lw
    ok = (lw >= max(params.min_words, 1)) & (rw >= max(params.min_words, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, np.abs(le / lw - re / rw), -1.0)


def _best_split(
    coords: np.ndarray, errors: np.ndarray, words: np.ndarray, idx: np.ndarray, params: RegionParams
) -> _Split | None:
    if len(idx) < 2 * params.min_speakers:
        return None
    e, w = errors[idx], words[idx]
    best: _Split | None = None
    candidates = _candidate_cuts(coords, idx, params)
    for axis, order, xs, cut in candidates:
        if len(cut) == 0:
            continue
        score = _scores(e, w, order, cut, params)
        i = int(np.argmax(score))
        if score[i] >= 0 and (best is None or score[i] > best.score):
            k = cut[i]
            best = _Split(float(score[i]), axis, float((xs[k - 1] + xs[k]) / 2), idx[order[:k]], idx[order[k:]])
    if best is not None and params.alpha is not None:
        if _split_p_value(e, w, candidates, best.score, params) >= params.alpha:
            return None
    return best


def _split_p_value(e: np.ndarray, w: np.ndarray, candidates, observed: float, params: RegionParams) -> float:
    """Permutation test of the chosen split *with its selection*: speakers' (errors, words) are shuffled
    over the node's coordinates and the best split over all candidates is found again each time, so
    picking the best of many thresholds does not pass as significance."""
    rng = np.random.default_rng(params.seed)
    at_least = 0
    for _ in range(params.n_perm):
        perm = rng.permutation(len(e))
        pe, pw = e[perm], w[perm]
        best = max(
            (float(_scores(pe, pw, order, cut, params).max()) for _, order, _, cut in candidates if len(cut)),
            default=-1.0,
        )
        at_least += best >= observed - 1e-12
    return (at_least + 1) / (params.n_perm + 1)


def _data_bounds(coords: np.ndarray) -> tuple[float, float, float, float]:
    lo = coords.min(axis=0) - CLIP_MARGIN_DEG
    hi = coords.max(axis=0) + CLIP_MARGIN_DEG
    return (
        max(lo[0], LON_LAT_LIMITS[0]),
        max(lo[1], LON_LAT_LIMITS[1]),
        min(hi[0], LON_LAT_LIMITS[2]),
        min(hi[1], LON_LAT_LIMITS[3]),
    )


def _split_cell(cell, axis: int, threshold: float):
    x0, y0, x1, y1 = cell
    if axis == 0:
        return (x0, y0, threshold, y1), (threshold, y0, x1, y1)
    return (x0, y0, x1, threshold), (x0, threshold, x1, y1)


def _clip(cell, coords: np.ndarray):
    """The cell clipped to its own speakers' extent (plus a margin), never outside the cell."""
    b = _data_bounds(coords)
    return (max(cell[0], b[0]), max(cell[1], b[1]), min(cell[2], b[2]), min(cell[3], b[3]))


def build_regions(
    lon: np.ndarray, lat: np.ndarray, errors: np.ndarray, words: np.ndarray, params: RegionParams = RegionParams()
) -> list[Region]:
    """Regions ranked worst first (rank 1 = highest WER), with bootstrap CIs and mitigation flags.

    A region is flagged when its CI lies entirely above the WER of the whole set.
    """
    coords = np.column_stack([np.asarray(lon, float), np.asarray(lat, float)])
    errors = np.asarray(errors, float)
    words = np.asarray(words, float)
    if len(coords) == 0:
        return []
    if params.min_speakers is None:
        params = replace(params, min_speakers=auto_min_speakers(len(coords)))
    root = Region(np.arange(len(coords)), _data_bounds(coords))
    leaves: list[Region] = []
    heap: list[tuple[float, int, Region, _Split]] = []
    counter = 0

    def propose(region: Region) -> None:
        nonlocal counter
        split = _best_split(coords, errors, words, region.speaker_index, params)
        if split is None or split.score <= 0:
            leaves.append(region)
            return
        heapq.heappush(heap, (-split.score, counter, region, split))
        counter += 1

    propose(root)
    while heap and len(leaves) + len(heap) < params.max_regions:
        _, _, region, split = heapq.heappop(heap)
        axis_name = "lon" if split.axis == 0 else "lat"
        for side, cell, sign in zip(
            (split.left, split.right), _split_cell(region.cell, split.axis, split.threshold), ("<", "≥")
        ):
            propose(Region(side, cell, path=[*region.path, f"{axis_name} {sign} {split.threshold:.3f}"]))
    leaves.extend(item[2] for item in heap)

    groups = np.empty(len(coords), np.int64)
    for g, region in enumerate(leaves):
        groups[region.speaker_index] = g
    summary = stats.group_wer_with_ci(errors, words, groups, len(leaves), params.n_boot, params.seed)
    overall = stats.corpus_wer(errors, words)
    for g, region in enumerate(leaves):
        region.errors = float(summary["errors"][g])
        region.words = float(summary["words"][g])
        region.wer = float(summary["wer"][g])
        region.ci_low = float(summary["ci_low"][g])
        region.ci_high = float(summary["ci_high"][g])
        region.clipped = _clip(region.cell, coords[region.speaker_index])
        region.flagged = bool(region.ci_low > overall)
    leaves.sort(key=lambda r: -r.wer)
    for rank, region in enumerate(leaves, start=1):
        region.rank = rank
    return leaves
