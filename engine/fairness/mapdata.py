"""Plain tables for the regional map: region polygons and speaker points with colours and tooltips.

The page turns these into pydeck layers; keeping the data shaping here keeps the page thin and testable.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

BOUNDARIES = Path(__file__).resolve().parent.parent / "assets" / "boundaries.geojson"
LOW_RGB = np.array([46, 160, 67])  # green: the best regions
HIGH_RGB = np.array([215, 48, 39])  # red: the worst


@lru_cache(maxsize=1)
def boundaries() -> dict:
    """Country and US-state outlines (scripts/build_boundaries.py), drawn under the data: no tiles offline."""
    return json.loads(BOUNDARIES.read_text())


def colour_scale(values: np.ndarray, low: float, high: float, alpha: int) -> list[list[int]]:
    span = high - low if high > low else 1.0
    t = np.clip((np.asarray(values, float) - low) / span, 0, 1)
    rgb = (LOW_RGB[None, :] * (1 - t[:, None]) + HIGH_RGB[None, :] * t[:, None]).round().astype(int)
    return [[*c, alpha] for c in rgb.tolist()]


def region_table(rows: list[dict], rules: dict[str, list[str]]) -> pd.DataFrame:
    wer = np.array([r["wer"] for r in rows], float)
    frame = pd.DataFrame({
        "rank": [r["rank"] for r in rows],
        "polygon": [r["polygon"]["coordinates"][0] for r in rows],
        "wer": wer, "ci_low": [r["ci_low"] for r in rows], "ci_high": [r["ci_high"] for r in rows],
        "n_speakers": [r["n_speakers"] for r in rows], "n_words": [r["ref_words"] for r in rows],
        "flagged": [bool(r["flagged"]) for r in rows],
        "rule": [" and ".join(rules.get(str(r["rank"]), [])) or "everywhere" for r in rows],
    })
    frame["colour"] = colour_scale(wer, np.nanmin(wer) if len(wer) else 0, np.nanmax(wer) if len(wer) else 1, 140)
    frame["tooltip"] = [
        f"<b>Region {r.rank}</b>{' ⚑ flagged' if r.flagged else ''}<br/>WER {100 * r.wer:.1f} % "
        f"(95 % CI {100 * r.ci_low:.1f}–{100 * r.ci_high:.1f})<br/>n = {r.n_speakers} speakers, {r.n_words} words"
        for r in frame.itertuples()]
    return frame


def speaker_points(totals: pd.DataFrame, wer_low: float, wer_high: float) -> pd.DataFrame:
    located = totals[totals["lat"].notna() & totals["lon"].notna()].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        located["wer"] = located["errors"] / located["words"]
    located["colour"] = colour_scale(located["wer"].fillna(0).to_numpy(), wer_low, wer_high, 220)
    places = located["place"].fillna("") if "place" in located else ""
    located["tooltip"] = [
        f"<b>{key}</b> {place}<br/>WER {100 * wer:.1f} %<br/>n = {words} words, {utts} utterances"
        for key, place, wer, words, utts in zip(located["speaker_key"], places, located["wer"],
                                               located["words"], located["n_utterances"])]
    return located[["speaker_id", "speaker_key", "lon", "lat", "wer", "colour", "tooltip"]]


def view_of(bounds: list[list[float]]) -> dict:
    """Centre and a zoom level that shows all the given [lon0, lat0, lon1, lat1] boxes."""
    if not bounds:
        return {"longitude": 0.0, "latitude": 20.0, "zoom": 0.8}
    b = np.asarray(bounds, float)
    lon0, lat0, lon1, lat1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    span = max(lon1 - lon0, (lat1 - lat0) * 2, 0.5)
    zoom = float(np.clip(np.log2(360 / span) + 0.3, 0.5, 12))
    return {"longitude": float((lon0 + lon1) / 2), "latitude": float((lat0 + lat1) / 2), "zoom": zoom}
