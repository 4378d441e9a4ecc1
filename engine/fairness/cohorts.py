"""Cohort discovery: who does the recogniser serve worst?

Geodemographic: for each attribute (location-derived areas such as geo_country / geo_us_state / geo_zip,
and demographic columns) the binary partition with the largest |WER(A) − WER(B)| subject to minimum
sizes on both sides. Categories are sorted by WER and cut once (any prefix of that order); numbers are
cut at a threshold. The attribute whose partition differs most gives the bottom cohort (its worse side).

Automatic: per-speaker mean embeddings (unit length) → k-means (MiniBatchKMeans beyond 10k speakers) →
clusters ranked by WER; the bottom cohort is the worst cluster that meets the minimum size.

Both report, per cohort: WER with a bootstrap CI over speakers, speakers, words, share %, and the WER gap %
against the rest (or against the best cohort), with a permutation p-value that re-runs the selection.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.fairness import stats

KMEANS_FULL_LIMIT = 10_000
MAX_THRESHOLDS = 32
MAX_CROSSTAB_CATEGORIES = 12
PER_ATTRIBUTE_PERMUTATIONS = 199


@dataclass(frozen=True)
class CohortParams:
    min_speakers: int = 10
    min_words: int = 200
    k: int = 6
    gap_reference: str = "rest"  # rest | top: the gap of a cohort against everyone else, or the best cohort
    n_boot: int = stats.DEFAULT_BOOTSTRAP
    n_perm: int = 999
    seed: int = 0


@dataclass
class Cohort:
    label: str
    definition: str
    members: np.ndarray  # positions into the speaker arrays
    errors: float
    words: float
    wer: float
    ci_low: float
    ci_high: float
    n_speakers: int
    share_pct: float
    is_bottom: bool = False
    wer_gap_pct: float | None = None
    gap_ci: tuple[float, float] | None = None
    small: bool = False


@dataclass
class CohortAnalysis:
    method: str
    cohorts: list[Cohort]
    p_value: float | None
    definitions: dict
    extras: dict = field(default_factory=dict)

    @property
    def bottom(self) -> Cohort | None:
        return next((c for c in self.cohorts if c.is_bottom), None)


DEFINITIONS = {
    "wer": "Σ errors / Σ reference words over the cohort's utterances (errors = substitutions + deletions + insertions)",
    "ci": "95 % percentile bootstrap CI, resampling speakers (not utterances), 1000 replicates unless stated",
    "wer_gap_pct": "100 · (WER_cohort − WER_reference) / WER_reference; reference = all other speakers ('rest') "
                   "or the best cohort ('top')",
    "share_pct": "100 · speakers in the cohort / all speakers in the analysis",
    "small": "fewer speakers than min_speakers or fewer words than min_words: shown, flagged, never dropped",
    "p_value": "permutation test: speakers' (errors, words) shuffled across the grouping and the selection "
               "(best partition / worst cluster) re-run each time; two-sided",
}


def _describe(labels: np.ndarray, names: list[str], definitions: list[str], errors, words,
              params: CohortParams, bottom: int | None) -> list[Cohort]:
    n_groups = len(names)
    s = stats.group_wer_with_ci(errors, words, labels, n_groups, params.n_boot, params.seed)
    total = len(labels)
    err_all, wrd_all = float(np.sum(errors)), float(np.sum(words))
    cohorts = []
    for g in range(n_groups):
        rest_wer = (err_all - s["errors"][g]) / (wrd_all - s["words"][g]) if wrd_all > s["words"][g] else np.nan
        cohorts.append(Cohort(
            label=names[g], definition=definitions[g], members=np.flatnonzero(labels == g),
            errors=float(s["errors"][g]), words=float(s["words"][g]), wer=float(s["wer"][g]),
            ci_low=float(s["ci_low"][g]), ci_high=float(s["ci_high"][g]), n_speakers=int(s["speakers"][g]),
            share_pct=100.0 * s["speakers"][g] / total if total else float("nan"),
            wer_gap_pct=float(stats.gap_pct(s["wer"][g], rest_wer)),
            small=bool(s["speakers"][g] < params.min_speakers or s["words"][g] < params.min_words),
        ))
    if params.gap_reference == "top":
        top = min((c for c in cohorts if not c.small), key=lambda c: c.wer, default=None)
        for c in cohorts:
            c.wer_gap_pct = float(stats.gap_pct(c.wer, top.wer)) if top else None
    if bottom is not None:
        worst = cohorts[bottom]
        worst.is_bottom = True
        ref = labels != bottom
        if params.gap_reference == "top":
            top_index = cohorts.index(min((c for c in cohorts if not c.small), key=lambda c: c.wer))
            ref = labels == top_index
        keep = (labels == bottom) | ref
        worst.gap_ci = stats.bootstrap_gap_ci(errors[keep], words[keep], (labels == bottom)[keep],
                                              params.n_boot, params.seed)
    return cohorts


# --- geodemographic -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Partition:
    attribute: str
    bottom_values: tuple  # categories on the bottom side, or ("> t",) for numbers
    bottom_mask: np.ndarray
    definition: str
    rest_definition: str
    score: float
    gap_pct: float


def _best_prefix(err: np.ndarray, wrd: np.ndarray, spk: np.ndarray, order: np.ndarray,
                 params: CohortParams, limit: int | None = None) -> tuple[float, int, bool]:
    """Best cut of groups taken in `order`: (|ΔWER|, number of groups before the cut, first side worse)."""
    e, w, n = np.cumsum(err[order]), np.cumsum(wrd[order]), np.cumsum(spk[order])
    cuts = np.arange(1, len(order))
    if limit is not None and len(cuts) > limit:
        cuts = np.unique(np.linspace(1, len(order) - 1, limit).astype(int))
    if len(cuts) == 0:
        return -1.0, 0, True
    le, lw, ln = e[cuts - 1], w[cuts - 1], n[cuts - 1]
    re, rw, rn = e[-1] - le, w[-1] - lw, n[-1] - ln
    ok = (ln >= params.min_speakers) & (rn >= params.min_speakers) & (lw >= max(params.min_words, 1)) & (rw >= max(params.min_words, 1))
    if not ok.any():
        return -1.0, 0, True
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(ok, le / lw - re / rw, 0.0)
    i = int(np.argmax(np.abs(diff)))
    return float(abs(diff[i])), int(cuts[i]), bool(diff[i] > 0)


def _attribute_codes(values: pd.Series) -> tuple[np.ndarray, list, bool]:
    """Integer codes per speaker, the value of each code, and whether the values are ordered numbers."""
    numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 2
    if numeric:
        filled = values.fillna(np.inf)  # missing numbers sort last and read as "unknown"
        codes, uniques = pd.factorize(filled, sort=True)
        return codes, list(uniques), True
    codes, uniques = pd.factorize(values.astype(object).where(values.notna(), "(none)"), sort=True)
    return codes, list(uniques), False


def _partition_statistic(spk: np.ndarray, numeric: bool, params: CohortParams):
    def statistic(err: np.ndarray, wrd: np.ndarray) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            order = np.arange(len(err)) if numeric else np.argsort(-(err / np.maximum(wrd, 1e-12)), kind="stable")
        return max(_best_prefix(err, wrd, spk, order, params, MAX_THRESHOLDS if numeric else None)[0], 0.0)
    return statistic


def best_partition(attribute: str, values: pd.Series, errors: np.ndarray, words: np.ndarray,
                   params: CohortParams) -> Partition | None:
    codes, uniques, numeric = _attribute_codes(values)
    if len(uniques) < 2:
        return None
    err, wrd, spk = stats.group_totals(errors, words, codes, len(uniques))
    with np.errstate(invalid="ignore", divide="ignore"):
        order = np.arange(len(uniques)) if numeric else np.argsort(-(err / np.maximum(wrd, 1e-12)), kind="stable")
    score, cut, first_worse = _best_prefix(err, wrd, spk, order, params, MAX_THRESHOLDS if numeric else None)
    if score < 0:
        return None
    first, second = order[:cut], order[cut:]
    worse, better = (first, second) if first_worse else (second, first)
    mask = np.isin(codes, worse)
    if numeric:
        threshold = uniques[first[-1]]
        low = f"{attribute} ≤ {threshold:g}"
        high = f"{attribute} > {threshold:g}" + (" or unknown" if np.isinf(uniques[-1]) else "")
        definition, rest = (low, high) if first_worse else (high, low)
        bottom_values = (definition,)
    else:
        bottom_values = tuple(str(uniques[i]) for i in worse)
        definition = f"{attribute} ∈ {{{', '.join(bottom_values)}}}"
        rest = f"{attribute} ∈ {{{', '.join(str(uniques[i]) for i in better)}}}"
    wer_bottom = errors[mask].sum() / words[mask].sum()
    wer_rest = errors[~mask].sum() / words[~mask].sum()
    return Partition(attribute, bottom_values, mask, definition, rest, score,
                     float(stats.gap_pct(wer_bottom, wer_rest)))


def _crosstab(attrs: pd.DataFrame, a: str, b: str, errors, words, params: CohortParams) -> list[dict]:
    table = pd.DataFrame({a: attrs[a].astype(str), b: attrs[b].astype(str), "errors": errors, "words": words})
    grouped = table.groupby([a, b]).agg(errors=("errors", "sum"), words=("words", "sum"), n_speakers=("errors", "size"))
    rows = []
    for (va, vb), r in grouped.iterrows():
        rows.append({a: va, b: vb, "wer": float(r.errors / r.words) if r.words else None, "n_speakers": int(r.n_speakers),
                     "n_words": int(r.words), "small": bool(r.n_speakers < params.min_speakers or r.words < params.min_words)})
    return rows


def _as_category(partition: Partition, attrs: pd.DataFrame) -> pd.Series:
    if partition.attribute in attrs and attrs[partition.attribute].nunique() <= MAX_CROSSTAB_CATEGORIES:
        return attrs[partition.attribute]
    return pd.Series(np.where(partition.bottom_mask, partition.definition, partition.rest_definition), index=attrs.index)


def geodemographic(attrs: pd.DataFrame, errors: np.ndarray, words: np.ndarray,
                   params: CohortParams = CohortParams()) -> CohortAnalysis:
    """`attrs`: one row per speaker, one column per attribute (areas and demographics)."""
    errors, words = np.asarray(errors, float), np.asarray(words, float)
    partitions = [p for col in attrs.columns if (p := best_partition(col, attrs[col], errors, words, params))]
    partitions.sort(key=lambda p: -p.score)
    definitions = {**DEFINITIONS, "method": "geodemographic: per attribute, the binary partition (WER-sorted "
                   "categories cut once, or a numeric threshold) maximising |WER(A) − WER(B)| with both sides "
                   "≥ min_speakers and ≥ min_words; the attribute with the largest difference gives the cohorts",
                   "attributes": list(attrs.columns)}
    if not partitions:
        return CohortAnalysis("geodemographic", [], None, definitions,
                              {"partitions": [], "note": "no attribute has a partition meeting the minimum sizes"})
    best = partitions[0]
    labels = (~best.bottom_mask).astype(np.int64)  # 0 = bottom side, 1 = rest
    cohorts = _describe(labels, [best.definition, best.rest_definition], [best.definition, best.rest_definition],
                        errors, words, params, bottom=0)

    def p_value_of(attribute: str, n_perm: int) -> float:
        codes, uniques, numeric = _attribute_codes(attrs[attribute])
        spk = np.bincount(codes, minlength=len(uniques))
        return stats.permutation_p_value(errors, words, codes, len(uniques),
                                         _partition_statistic(spk, numeric, params), n_perm, params.seed)

    p_value = p_value_of(best.attribute, params.n_perm)
    # Many-valued attributes (birth country) reach large differences by chance; a p-value per attribute
    # shows the analyst which partitions are more than that.
    p_values = [p_value] + [p_value_of(p.attribute, min(params.n_perm, PER_ATTRIBUTE_PERMUTATIONS))
                            for p in partitions[1:]]
    categories = {p.attribute: _as_category(p, attrs) for p in partitions[:2]}
    extras = {
        "partitions": [{"attribute": p.attribute, "bottom": p.definition, "rest": p.rest_definition,
                        "wer_difference": p.score, "wer_gap_pct": p.gap_pct,
                        "bottom_speakers": int(p.bottom_mask.sum()), "p_value": pv}
                       for p, pv in zip(partitions, p_values)],
        "intersections": _crosstab(pd.DataFrame(categories), *categories, errors, words, params)
        if len(categories) == 2 else [],
        "intersection_attributes": list(categories),
    }
    return CohortAnalysis("geodemographic", cohorts, p_value, definitions, extras)


# --- automatic ------------------------------------------------------------------------------------

def kmeans_labels(embeddings: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    k = min(k, len(x))
    if len(x) > KMEANS_FULL_LIMIT:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=10)
    return model.fit_predict(x).astype(np.int64)


def _composition(attrs: pd.DataFrame | None, members: np.ndarray) -> str:
    """The attribute value most over-represented in a cluster, e.g. "native_language=mandarin: 72 % vs 6 % overall"."""
    if attrs is None or attrs.empty or len(members) == 0:
        return ""
    best = None
    for col in attrs.columns:
        if attrs[col].nunique() > MAX_CROSSTAB_CATEGORIES:
            continue
        overall = attrs[col].astype(str).value_counts(normalize=True)
        inside = attrs[col].iloc[members].astype(str).value_counts(normalize=True)
        lift = (inside - overall.reindex(inside.index)).sort_values(ascending=False)
        if len(lift) and (best is None or lift.iloc[0] > best[0]):
            value = lift.index[0]
            best = (lift.iloc[0], f"{col}={value}: {100 * inside[value]:.0f} % vs {100 * overall[value]:.0f} % overall")
    return f"; over-represented {best[1]}" if best else ""


def automatic(embeddings: np.ndarray, errors: np.ndarray, words: np.ndarray,
              params: CohortParams = CohortParams(), attrs: pd.DataFrame | None = None) -> CohortAnalysis:
    errors, words = np.asarray(errors, float), np.asarray(words, float)
    raw = kmeans_labels(embeddings, params.k, params.seed)
    k = int(raw.max()) + 1
    err, wrd, spk = stats.group_totals(errors, words, raw, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        wer = err / wrd
    order = np.argsort(-np.nan_to_num(wer, nan=-1.0), kind="stable")  # worst first
    rank_of = np.empty(k, np.int64)
    rank_of[order] = np.arange(k)
    labels = rank_of[raw]
    big = [r for r in range(k) if spk[order[r]] >= params.min_speakers and wrd[order[r]] >= params.min_words]
    bottom = big[0] if big else 0
    names = [f"cluster {r + 1}" for r in range(k)]
    definitions = [f"k-means cluster {r + 1} of {k} (ranked by WER, 1 = worst) over unit-length per-speaker "
                   f"mean embeddings, seed {params.seed}" + _composition(attrs, np.flatnonzero(labels == r))
                   for r in range(k)]
    cohorts = _describe(labels, names, definitions, errors, words, params, bottom)

    def worst_gap(e: np.ndarray, w: np.ndarray) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            gaps = e / w - (e.sum() - e) / (w.sum() - w)
        sizes = np.bincount(labels, minlength=k)
        ok = (sizes >= params.min_speakers) & (w >= params.min_words)
        if not ok.any():  # every cluster is small: the bottom was chosen among all, so test that choice
            ok[:] = True
        return float(np.nanmax(np.where(ok, gaps, -np.inf)))

    p_value = stats.permutation_p_value(errors, words, labels, k, worst_gap, params.n_perm, params.seed)
    definitions_all = {**DEFINITIONS, "method": "automatic: per-speaker mean embedding (unit length) → "
                       f"{'MiniBatchKMeans' if len(labels) > KMEANS_FULL_LIMIT else 'KMeans'} (k={k}); clusters "
                       "ranked by WER; bottom = worst cluster meeting the minimum sizes"}
    extras = {}
    if attrs is not None and not attrs.empty:
        col = next((c for c in attrs.columns if attrs[c].nunique() <= MAX_CROSSTAB_CATEGORIES), None)
        if col:
            extras = {"intersections": _crosstab(pd.DataFrame({"cohort": [names[i] for i in labels], col: attrs[col].to_numpy()}),
                                                 "cohort", col, errors, words, params),
                      "intersection_attributes": ["cohort", col]}
    return CohortAnalysis("automatic", cohorts, p_value, definitions_all, extras)
