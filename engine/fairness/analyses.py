"""Run a regions or cohorts analysis for a stored evaluation set and store it (parameters and
definitions beside the numbers). Pages only read what is stored here, so a page rerun stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd

from engine import persistence
from engine.errors import UserError
from engine.fairness import cohorts, regions, stats

REGION_DEFINITIONS = {
    "method": "clustering tree over (lon, lat): greedy recursive axis-aligned bisection; candidate thresholds "
    "between speakers' coordinates at up to n_thresholds quantiles per axis; split score "
    "|WER(left) − WER(right)| with corpus WER; both sides ≥ min_speakers and ≥ min_words; the best-"
    "scoring leaf is split first until max_regions; with alpha, a split is kept only when a permutation "
    "test over speakers that re-runs the threshold search gives p < alpha",
    "polygon": "the region's tree cell clipped to its speakers' extent (± 0.5°)",
    "wer": cohorts.DEFINITIONS["wer"],
    "ci": cohorts.DEFINITIONS["ci"],
    "rank": "1 = highest WER",
    "flagged": "flagged for mitigation: the region's CI lies entirely above the WER of the whole set",
}


def _summary_base(totals: pd.DataFrame) -> dict:
    return {
        "overall_wer": stats.corpus_wer(totals["errors"].to_numpy(), totals["words"].to_numpy()),
        "n_speakers": int(len(totals)),
        "n_words": int(totals["words"].sum()),
        "n_utterances": int(totals["n_utterances"].sum()),
    }


def region_params(params: regions.RegionParams, where: dict[str, str] | None = None) -> dict:
    """The stored parameters of a regions analysis (what a page looks a stored analysis up by)."""
    return {**asdict(params), "where": where or {}}


def _select(totals: pd.DataFrame, where: dict[str, str] | None) -> pd.DataFrame:
    """Speakers whose attributes match every `attribute: value` in `where` (compared as text)."""
    if not where:
        return totals
    keep = np.ones(len(totals), bool)
    for attribute, value in where.items():
        keep &= np.array([str(a.get(attribute)) == str(value) for a in totals["attributes"]])
    return totals[keep]


def run_regions(
    set_name: str,
    params: regions.RegionParams = regions.RegionParams(),
    where: dict[str, str] | None = None,
    url: str | None = None,
) -> persistence.AnalysisInfo:
    """Regions over the located speakers (optionally only those matching `where`), stored and returned."""
    info = persistence.get_evaluation_set(set_name, url)
    totals = _select(persistence.speaker_totals(info.id, url=url), where)
    located = totals[totals["lat"].notna() & totals["lon"].notna()]
    if located.empty:
        raise UserError(f"No speaker of '{set_name}' has a location (lat/lon, a place that geocodes, or a ZIP).")
    stored_params = region_params(params, where)
    if params.min_speakers is None:
        params = replace(params, min_speakers=regions.auto_min_speakers(len(located)))
    found = regions.build_regions(
        located["lon"].to_numpy(),
        located["lat"].to_numpy(),
        located["errors"].to_numpy(),
        located["words"].to_numpy(),
        params,
    )
    speaker_ids = located["speaker_id"].to_numpy()
    rows = [
        {
            "rank": r.rank,
            "errors": int(r.errors),
            "ref_words": int(r.words),
            "wer": r.wer,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "n_speakers": len(r.speaker_index),
            "polygon": r.polygon,
            "bounds": list(r.clipped),
            "flagged": r.flagged,
            "speaker_ids": speaker_ids[r.speaker_index].tolist(),
        }
        for r in found
    ]
    summary = {
        **_summary_base(located),
        "n_unlocated_speakers": int(len(totals) - len(located)),
        "n_regions": len(found),
        "rules": {str(r.rank): r.path for r in found},
    }
    summary["min_speakers_used"] = params.min_speakers
    with persistence.session_scope(url) as s:
        persistence.save_analysis(
            s, info.id, "regions", "tree", stored_params, REGION_DEFINITIONS, _jsonable(summary), _jsonable(rows)
        )
    return persistence.latest_analysis(info.id, "regions", params=stored_params, url=url)


def _attributes(totals: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(list(totals["attributes"]), index=totals.index)


def run_cohorts(
    set_name: str, method: str, params: cohorts.CohortParams = cohorts.CohortParams(), url: str | None = None
) -> persistence.AnalysisInfo:
    if method not in ("geodemographic", "automatic"):
        raise UserError(f"Unknown cohort method '{method}'; choose geodemographic or automatic.")
    if params.gap_reference not in ("rest", "top"):
        raise UserError("The gap reference is 'rest' (everyone else) or 'top' (the best cohort).")
    info = persistence.get_evaluation_set(set_name, url)
    totals = persistence.speaker_totals(info.id, with_embeddings=method == "automatic", url=url)
    if method == "automatic":
        totals = totals[totals["embedding"].notna()].reset_index(drop=True)
        if totals.empty:
            raise UserError(
                f"'{set_name}' has no speaker embeddings; import an 'embedding' column, or build "
                "the set from audio with `python -m engine fairness run`."
            )
        embeddings = np.stack([np.frombuffer(b, dtype=np.float32) for b in totals["embedding"]])
        result = cohorts.automatic(
            embeddings, totals["errors"].to_numpy(), totals["words"].to_numpy(), params, _attributes(totals)
        )
    else:
        attrs = _attributes(totals)
        if attrs.empty or attrs.shape[1] == 0:
            raise UserError(f"'{set_name}' has no location-derived areas or demographic columns to partition on.")
        result = cohorts.geodemographic(attrs, totals["errors"].to_numpy(), totals["words"].to_numpy(), params)
    speaker_ids = totals["speaker_id"].to_numpy()
    rows = [
        {
            "method": method,
            "label": c.label,
            "definition": c.definition,
            "errors": int(c.errors),
            "ref_words": int(c.words),
            "wer": c.wer,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "n_speakers": c.n_speakers,
            "share_pct": c.share_pct,
            "is_bottom": c.is_bottom,
            "wer_gap_pct": c.wer_gap_pct,
            "small": c.small,
            "members": speaker_ids[c.members].tolist(),
        }
        for c in result.cohorts
    ]
    bottom = result.bottom
    # what the bottom cohort's gap is measured against: the other compared cohorts, or the best one
    compared = [c for c in result.cohorts if c.compared and c is not bottom]
    if params.gap_reference == "top" and compared:
        compared = [min((c for c in compared if not c.small), key=lambda c: c.wer, default=compared[0])]
    ref_errors, ref_words = sum(c.errors for c in compared), sum(c.words for c in compared)
    summary = {
        **_summary_base(totals),
        "p_value": result.p_value,
        "bottom_wer": bottom.wer if bottom else None,
        "rest_wer": float(ref_errors / ref_words) if bottom and ref_words else None,
        "wer_gap_pct": bottom.wer_gap_pct if bottom else None,
        "gap_ci": list(bottom.gap_ci) if bottom and bottom.gap_ci else None,
        "bottom_share_pct": bottom.share_pct if bottom else None,
        # what the headline compares, in words, to state beside the numbers
        "bottom_definition": bottom.label if bottom else None,
        "bottom_speakers": bottom.n_speakers if bottom else None,
        "reference_labels": [c.label for c in compared],
        "rest_definition": (
            "the best cohort, " + compared[0].label
            if params.gap_reference == "top"
            else " or ".join(c.label for c in compared)
            if method == "geodemographic"
            else "all other speakers"
        )
        if compared
        else None,
        "rest_speakers": sum(c.n_speakers for c in compared),
        "outside": [{"label": c.label, "n_speakers": c.n_speakers} for c in result.cohorts if not c.compared],
        **result.extras,
    }
    with persistence.session_scope(url) as s:
        persistence.save_analysis(
            s, info.id, "cohorts", method, asdict(params), result.definitions, _jsonable(summary), _jsonable(rows)
        )
    return persistence.latest_analysis(info.id, "cohorts", method, asdict(params), url)


def _jsonable(value):
    """Plain JSON values: numpy scalars unwrapped, NaN as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
