"""Cohort discovery: who does the recogniser serve worst?

Geodemographic: for each attribute (location-derived areas such as geo_country / geo_us_state / geo_zip,
and demographic columns) the binary partition with the largest |WER(A) − WER(B)| subject to minimum
sizes on both sides (speakers and words, and a share of the speakers partitioned, so a handful of speakers
is never compared against everyone else). Categories are sorted by WER and cut once (any prefix of that
order); numbers are cut at a threshold. Speakers without a value (no US state: outside the USA or not
located) are not partitioned: they are a labelled group of their own, shown beside the two sides and
never inside either. The attribute whose partition differs most gives the bottom cohort (its worse side).

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
    # geodemographic: each side of a partition holds at least this share of the speakers partitioned
    min_share_pct: float = 10.0
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
    compared: bool = True  # False: a group outside the comparison (speakers without the attribute's value)


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
    "wer": "Σ errors / Σ reference words over the cohort's utterances "
    "(errors = substitutions + deletions + insertions)",
    "ci": "95 % percentile bootstrap CI, resampling speakers (not utterances), 1000 replicates unless stated",
    "wer_gap_pct": "100 · (WER_cohort − WER_reference) / WER_reference; reference = all other speakers ('rest') "
    "or the best cohort ('top')",
    "share_pct": "100 · speakers in the cohort / all speakers in the analysis",
    "outside": "speakers without a value of the partitioned attribute (e.g. no US state: outside the USA or not "
    "located) form their own labelled group; it is shown but belongs to neither side of the comparison",
    "small": "fewer speakers than min_speakers or fewer words than min_words: shown, flagged, never dropped",
    "p_value": "permutation test: speakers' (errors, words) shuffled across the grouping and the selection "
    "(best partition / worst cluster) re-run each time; two-sided",
}


def _describe(
    labels: np.ndarray,
    names: list[str],
    definitions: list[str],
    errors,
    words,
    params: CohortParams,
    bottom: int | None,
    n_compared: int | None = None,
) -> list[Cohort]:
    """Cohorts of `labels` (0..len(names)-1). Only the first `n_compared` groups take part in the comparison
    (gaps, the top cohort, "rest"); later ones are shown with their WER and CI and no gap."""
    n_groups = len(names)
    n_compared = n_groups if n_compared is None else n_compared
    s = stats.group_wer_with_ci(errors, words, labels, n_groups, params.n_boot, params.seed)
    total = len(labels)
    inside = labels < n_compared
    err_all, wrd_all = float(np.sum(errors[inside])), float(np.sum(words[inside]))
    cohorts = []
    for g in range(n_groups):
        compared = g < n_compared
        rest_words = wrd_all - s["words"][g]
        rest_wer = (err_all - s["errors"][g]) / rest_words if compared and rest_words > 0 else np.nan
        cohorts.append(
            Cohort(
                label=names[g],
                definition=definitions[g],
                members=np.flatnonzero(labels == g),
                errors=float(s["errors"][g]),
                words=float(s["words"][g]),
                wer=float(s["wer"][g]),
                ci_low=float(s["ci_low"][g]),
                ci_high=float(s["ci_high"][g]),
                n_speakers=int(s["speakers"][g]),
                share_pct=100.0 * s["speakers"][g] / total if total else float("nan"),
                wer_gap_pct=float(stats.gap_pct(s["wer"][g], rest_wer)) if compared else None,
                small=bool(s["speakers"][g] < params.min_speakers or s["words"][g] < params.min_words),
                compared=compared,
            )
        )
    candidates = [c for c in cohorts if c.compared and not c.small]
    top = min(candidates, key=lambda c: c.wer, default=None)
    if params.gap_reference == "top":
        for c in cohorts:
            c.wer_gap_pct = float(stats.gap_pct(c.wer, top.wer)) if top and c.compared else None
    if bottom is not None:
        worst = cohorts[bottom]
        worst.is_bottom = True
        ref = (labels != bottom) & inside
        if params.gap_reference == "top" and top is not None:
            ref = labels == cohorts.index(top)
        keep = (labels == bottom) | ref
        worst.gap_ci = stats.bootstrap_gap_ci(
            errors[keep], words[keep], (labels == bottom)[keep], params.n_boot, params.seed
        )
    return cohorts


# --- geodemographic -------------------------------------------------------------------------------

# How attributes read to a person; others show their column name with spaces.
ATTRIBUTE_NAMES = {"geo_country": "country (geocoded)", "geo_us_state": "US state", "geo_zip": "ZIP code"}
# What having no value means for the location-derived areas.
NO_VALUE = {
    "geo_us_state": "no US state (outside the USA, or not located)",
    "geo_country": "not located",
    "geo_zip": "no ZIP code",
}
LABEL_VALUES = 4  # categories a cohort's label lists before "and N more" (its definition lists all)
# A categorical partition names at most this many values on one side ("birth country: usa" against every
# other country): sorting 95 countries by WER and cutting anywhere finds a "cohort" of 70 unrelated countries
# that no one would call a group, and its size is chance.
MAX_NAMED_VALUES = 3


def attribute_name(attribute: str) -> str:
    return ATTRIBUTE_NAMES.get(attribute, attribute.replace("_", " "))


def no_value_label(attribute: str) -> str:
    return NO_VALUE.get(attribute, f"no {attribute_name(attribute)} given")


@dataclass(frozen=True)
class Partition:
    attribute: str
    bottom_values: tuple  # categories on the bottom side, or ("> t",) for numbers
    bottom_mask: np.ndarray  # over all speakers; False for those without a value
    rest_mask: np.ndarray  # the other side; False for those without a value
    label: str
    rest_label: str
    definition: str
    rest_definition: str
    score: float
    gap_pct: float

    @property
    def missing_mask(self) -> np.ndarray:
        return ~(self.bottom_mask | self.rest_mask)


def _min_side_speakers(n_partitioned: int, params: CohortParams) -> int:
    return max(params.min_speakers, int(np.ceil(params.min_share_pct / 100 * n_partitioned)))


def _best_split(
    err: np.ndarray, wrd: np.ndarray, spk: np.ndarray, numeric: bool, params: CohortParams
) -> tuple[float, np.ndarray, bool]:
    """The best two-sided split of groups (values): (|ΔWER|, the groups of side A, A is the worse side).

    Numbers (groups in ascending order): side A is the values up to a threshold, at most MAX_THRESHOLDS tried.
    Categories: side A names at most MAX_NAMED_VALUES values: any single value, or the 2–3 values with the
    highest or the lowest WER; side B is every other value. Score −1 when no split meets the minimum sizes."""
    n_groups = len(err)
    with np.errstate(invalid="ignore", divide="ignore"):
        wer = err / np.maximum(wrd, 1e-12)
    if numeric:
        cuts = np.arange(1, n_groups)
        if len(cuts) > MAX_THRESHOLDS:
            cuts = np.unique(np.linspace(1, n_groups - 1, MAX_THRESHOLDS).astype(int))
        sides = [np.arange(k) for k in cuts]
    else:
        order = np.argsort(-wer, kind="stable")
        sides = [np.array([g]) for g in range(n_groups)]
        sides += [order[:k] for k in range(2, MAX_NAMED_VALUES + 1) if k < n_groups]
        sides += [order[-k:] for k in range(2, MAX_NAMED_VALUES + 1) if k < n_groups]
    if not sides:
        return -1.0, np.array([], np.int64), True
    ae = np.array([err[g].sum() for g in sides])
    aw = np.array([wrd[g].sum() for g in sides])
    an = np.array([spk[g].sum() for g in sides])
    be, bw, bn = err.sum() - ae, wrd.sum() - aw, spk.sum() - an
    side = _min_side_speakers(int(spk.sum()), params)
    ok = (an >= side) & (bn >= side) & (aw >= max(params.min_words, 1)) & (bw >= max(params.min_words, 1))
    if not ok.any():
        return -1.0, np.array([], np.int64), True
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(ok, ae / aw - be / bw, 0.0)
    i = int(np.argmax(np.abs(diff)))
    return float(abs(diff[i])), sides[i], bool(diff[i] > 0)


def _attribute_codes(values: pd.Series) -> tuple[np.ndarray, list, bool]:
    """Integer codes per speaker (−1: no value), the value of each code, and whether they are ordered numbers."""
    present = values.notna() & (values.astype(str).str.strip() != "")
    numeric = pd.api.types.is_numeric_dtype(values) and values[present].nunique() > 2
    codes, uniques = pd.factorize(values.where(present), sort=True, use_na_sentinel=True)
    return np.asarray(codes, np.int64), list(uniques), numeric


def _partition_statistic(spk: np.ndarray, numeric: bool, params: CohortParams):
    def statistic(err: np.ndarray, wrd: np.ndarray) -> float:
        return max(_best_split(err, wrd, spk, numeric, params)[0], 0.0)

    return statistic


def _listed(name: str, values: list[str], others: list[str]) -> str:
    """`values` by name when few, else as "any other than" the few `others` (the side that was named)."""
    if len(values) <= LABEL_VALUES or len(others) > MAX_NAMED_VALUES:
        shown, more = ", ".join(values[:LABEL_VALUES]), len(values) - LABEL_VALUES
        return f"{name}: {shown}" + (f" and {more} more" if more > 0 else "")
    return f"{name}: any other than {', '.join(others)}"


def best_partition(
    attribute: str, values: pd.Series, errors: np.ndarray, words: np.ndarray, params: CohortParams
) -> Partition | None:
    """The binary partition of the speakers that have a value (those without one stay out of both sides)."""
    codes, uniques, numeric = _attribute_codes(values)
    if len(uniques) < 2:
        return None
    present = codes >= 0
    err, wrd, spk = stats.group_totals(errors[present], words[present], codes[present], len(uniques))
    score, side_a, a_worse = _best_split(err, wrd, spk, numeric, params)
    if score < 0:
        return None
    side_b = np.setdiff1d(np.arange(len(uniques)), side_a)
    worse, better = (side_a, side_b) if a_worse else (side_b, side_a)
    mask = np.isin(codes, worse) & present
    rest_mask = np.isin(codes, better) & present
    name = attribute_name(attribute)
    if numeric:
        threshold = uniques[side_a[-1]]
        low, high = f"{name} ≤ {threshold:g}", f"{name} > {threshold:g}"
        definition, rest = (low, high) if a_worse else (high, low)
        label, rest_label = definition, rest
        bottom_values = (definition,)
    else:
        bottom_values = tuple(str(uniques[i]) for i in worse)
        better_values = [str(uniques[i]) for i in better]
        named = ", ".join(str(uniques[i]) for i in side_a)
        # side A is named by its values; side B by its own when they are few, else as "every other value"
        named_side = f"{name} ∈ {{{named}}}"
        other_side = (
            f"{name} ∈ {{{', '.join(str(uniques[i]) for i in side_b)}}}"
            if len(side_b) <= LABEL_VALUES
            else f"{name} ∉ {{{named}}}"
        )
        definition, rest = (named_side, other_side) if a_worse else (other_side, named_side)
        label = _listed(name, list(bottom_values), better_values)
        rest_label = _listed(name, better_values, list(bottom_values))
    wer_bottom = errors[mask].sum() / words[mask].sum()
    wer_rest = errors[rest_mask].sum() / words[rest_mask].sum()
    return Partition(
        attribute,
        bottom_values,
        mask,
        rest_mask,
        label,
        rest_label,
        definition,
        rest,
        score,
        float(stats.gap_pct(wer_bottom, wer_rest)),
    )


def _crosstab(attrs: pd.DataFrame, a: str, b: str, errors, words, params: CohortParams) -> list[dict]:
    def text(column: str) -> pd.Series:
        return attrs[column].astype(object).where(attrs[column].notna(), no_value_label(column)).astype(str)

    table = pd.DataFrame({a: text(a), b: text(b), "errors": errors, "words": words})
    grouped = table.groupby([a, b]).agg(errors=("errors", "sum"), words=("words", "sum"), n_speakers=("errors", "size"))
    rows = []
    for (va, vb), r in grouped.iterrows():
        rows.append(
            {
                a: va,
                b: vb,
                "wer": float(r.errors / r.words) if r.words else None,
                "n_speakers": int(r.n_speakers),
                "n_words": int(r.words),
                "small": bool(r.n_speakers < params.min_speakers or r.words < params.min_words),
            }
        )
    return rows


def _as_category(partition: Partition, attrs: pd.DataFrame) -> pd.Series:
    if partition.attribute in attrs and attrs[partition.attribute].nunique() <= MAX_CROSSTAB_CATEGORIES:
        return attrs[partition.attribute]
    return pd.Series(
        np.select(
            [partition.bottom_mask, partition.rest_mask],
            [partition.label, partition.rest_label],
            no_value_label(partition.attribute),
        ),
        index=attrs.index,
    )


def geodemographic(
    attrs: pd.DataFrame, errors: np.ndarray, words: np.ndarray, params: CohortParams = CohortParams()
) -> CohortAnalysis:
    """`attrs`: one row per speaker, one column per attribute (areas and demographics)."""
    errors, words = np.asarray(errors, float), np.asarray(words, float)
    partitions = [p for col in attrs.columns if (p := best_partition(col, attrs[col], errors, words, params))]
    partitions.sort(key=lambda p: -p.score)
    definitions = {
        **DEFINITIONS,
        "method": "geodemographic: per attribute, the binary partition (WER-sorted "
        "categories cut once, or a numeric threshold) of the speakers that have a value, maximising "
        "|WER(A) − WER(B)| with both sides ≥ min_speakers, ≥ min_words and ≥ min_share_pct % of the "
        "speakers partitioned; the attribute with the largest difference gives the cohorts; the bottom "
        "cohort is its worse side, compared with the other side only",
        "attributes": list(attrs.columns),
    }
    if not partitions:
        return CohortAnalysis(
            "geodemographic",
            [],
            None,
            definitions,
            {"partitions": [], "note": "No attribute has a partition whose two sides both meet the minimum sizes."},
        )
    best = partitions[0]
    labels = np.select([best.bottom_mask, best.rest_mask], [0, 1], 2).astype(np.int64)  # 2: no value
    names, definitions_of = [best.label, best.rest_label], [best.definition, best.rest_definition]
    if best.missing_mask.any():
        names.append(no_value_label(best.attribute))
        definitions_of.append(f"speakers without a {attribute_name(best.attribute)} value: outside the comparison")
    cohorts = _describe(labels, names, definitions_of, errors, words, params, bottom=0, n_compared=2)

    def p_value_of(attribute: str, n_perm: int) -> float:
        codes, uniques, numeric = _attribute_codes(attrs[attribute])
        present = codes >= 0
        spk = np.bincount(codes[present], minlength=len(uniques))
        return stats.permutation_p_value(
            errors[present],
            words[present],
            codes[present],
            len(uniques),
            _partition_statistic(spk, numeric, params),
            n_perm,
            params.seed,
        )

    p_value = p_value_of(best.attribute, params.n_perm)
    # Many-valued attributes (birth country) reach large differences by chance; a p-value per attribute
    # shows the analyst which partitions are more than that.
    p_values = [p_value] + [
        p_value_of(p.attribute, min(params.n_perm, PER_ATTRIBUTE_PERMUTATIONS)) for p in partitions[1:]
    ]
    categories = {p.attribute: _as_category(p, attrs) for p in partitions[:2]}
    extras = {
        "attribute": best.attribute,
        "partitions": [
            {
                "attribute": attribute_name(p.attribute),
                "bottom": p.definition,
                "rest": p.rest_definition,
                "wer_difference": p.score,
                "wer_gap_pct": p.gap_pct,
                "bottom_speakers": int(p.bottom_mask.sum()),
                "rest_speakers": int(p.rest_mask.sum()),
                "speakers_without_value": int(p.missing_mask.sum()),
                "p_value": pv,
            }
            for p, pv in zip(partitions, p_values)
        ],
        "intersections": _crosstab(pd.DataFrame(categories), *categories, errors, words, params)
        if len(categories) == 2
        else [],
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


def automatic(
    embeddings: np.ndarray,
    errors: np.ndarray,
    words: np.ndarray,
    params: CohortParams = CohortParams(),
    attrs: pd.DataFrame | None = None,
) -> CohortAnalysis:
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
    definitions = [
        f"k-means cluster {r + 1} of {k} (ranked by WER, 1 = worst) over unit-length per-speaker "
        f"mean embeddings, seed {params.seed}" + _composition(attrs, np.flatnonzero(labels == r))
        for r in range(k)
    ]
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
    definitions_all = {
        **DEFINITIONS,
        "method": "automatic: per-speaker mean embedding (unit length) → "
        f"{'MiniBatchKMeans' if len(labels) > KMEANS_FULL_LIMIT else 'KMeans'} (k={k}); clusters "
        "ranked by WER; bottom = worst cluster meeting the minimum sizes",
    }
    extras = {}
    if attrs is not None and not attrs.empty:
        col = next((c for c in attrs.columns if attrs[c].nunique() <= MAX_CROSSTAB_CATEGORIES), None)
        if col:
            extras = {
                "intersections": _crosstab(
                    pd.DataFrame({"cohort": [names[i] for i in labels], col: attrs[col].to_numpy()}),
                    "cohort",
                    col,
                    errors,
                    words,
                    params,
                ),
                "intersection_attributes": ["cohort", col],
            }
    return CohortAnalysis("automatic", cohorts, p_value, definitions_all, extras)
