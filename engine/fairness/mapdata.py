"""Plain tables for the regional map: region polygons and speaker points with colours and tooltips.

The page turns these into pydeck layers; keeping the data shaping here keeps the page thin and testable.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

BOUNDARIES = Path(__file__).resolve().parent.parent / "assets" / "boundaries.geojson"
LOW_RGB = np.array([46, 160, 67])  # green: the best regions
HIGH_RGB = np.array([215, 48, 39])  # red: the worst
BETTER_RGB = np.array([33, 102, 172])  # blue: system B better than A (difference maps)
EVEN_RGB = np.array([240, 240, 240])  # no difference


@lru_cache(maxsize=1)
def boundaries() -> dict:
    """Country and US-state outlines (scripts/build_boundaries.py): the ground of every map (basemap.py)."""
    return json.loads(BOUNDARIES.read_text())


def outline_table(rings: list[list[list[float]]], colours: list[list[int]] | None = None) -> pd.DataFrame:
    """Every edge of every ring (closed) as a (source, target) pair of [lon, lat], with its ring's colour
    when `colours` are given (one per ring).
    Maps draw outlines as straight segments (deck.gl's LineLayer), not as paths: PathLayer's shaders cost a
    first visit about 2 s of software WebGL in headless Chromium on these 2 cores."""
    frame = pd.DataFrame(
        [
            (ring[k], ring[(k + 1) % len(ring)], index)
            for index, ring in enumerate(rings)
            for k in range(len(ring) - (ring[0] == ring[-1]))
        ],
        columns=["source", "target", "ring"],
    )
    if colours is not None:
        frame["colour"] = [colours[i] for i in frame["ring"]]
    return frame.drop(columns="ring")


def colour_scale(values: np.ndarray, low: float, high: float, alpha: int) -> list[list[int]]:
    span = high - low if high > low else 1.0
    t = np.clip((np.asarray(values, float) - low) / span, 0, 1)
    rgb = (LOW_RGB[None, :] * (1 - t[:, None]) + HIGH_RGB[None, :] * t[:, None]).round().astype(int)
    return [[*c, alpha] for c in rgb.tolist()]


def diverging_scale(values: np.ndarray, span: float, alpha: int) -> list[list[int]]:
    """Blue (negative: B better) through grey (0) to red (positive: B worse), saturating at ±span."""
    t = np.clip(np.nan_to_num(np.asarray(values, float)) / (span if span > 0 else 1.0), -1, 1)[:, None]
    rgb = np.where(t < 0, EVEN_RGB + (BETTER_RGB - EVEN_RGB) * -t, EVEN_RGB + (HIGH_RGB - EVEN_RGB) * t)
    return [[*c, alpha] for c in rgb.round().astype(int).tolist()]


def region_table(
    rows: list[dict], names: list[str], shown: np.ndarray | None = None, what: str = "WER", diverging: bool = False
) -> pd.DataFrame:
    """Region polygons coloured by `shown` (default: their WER; a difference with `diverging`), with tooltips
    that give the region's name, the shown value and its size. Names are escaped: they hold user text."""
    wer = np.array([r["wer"] for r in rows], float)
    shown = wer if shown is None else np.asarray(shown, float)
    frame = pd.DataFrame(
        {
            "rank": [r["rank"] for r in rows],
            "name": names,
            "polygon": [r["polygon"]["coordinates"][0] for r in rows],
            "wer": wer,
            "shown": shown,
            "n_speakers": [r["n_speakers"] for r in rows],
            "n_words": [r["ref_words"] for r in rows],
            "flagged": [bool(r["flagged"]) for r in rows],
        }
    )
    if diverging:
        frame["colour"] = diverging_scale(shown, float(np.nanmax(np.abs(shown))) if len(shown) else 1.0, 160)
    else:
        frame["colour"] = colour_scale(
            shown, np.nanmin(shown) if len(shown) else 0, np.nanmax(shown) if len(shown) else 1, 140
        )
    sign = "+" if diverging else ""
    frame["tooltip"] = [
        f"<b>{html.escape(r.name)}</b>{' ⚑ flagged' if r.flagged else ''}<br/>{html.escape(what)} "
        f"{100 * r.shown:{sign}.1f} %<br/>region {r.rank} by WER of A; {r.n_speakers} speakers, {r.n_words} words"
        for r in frame.itertuples()
    ]
    return frame


def speaker_points(
    totals: pd.DataFrame, wer_low: float, wer_high: float, shown: np.ndarray | None = None, diverging: bool = False
) -> pd.DataFrame:
    """Located speakers coloured by their WER (or by `shown`, one value per row of `totals`, e.g. B − A)."""
    mask = (totals["lat"].notna() & totals["lon"].notna()).to_numpy()
    located = totals[mask].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        located["wer"] = located["errors"] / located["words"]
    value = located["wer"].to_numpy() if shown is None else np.asarray(shown, float)[mask]
    if diverging:
        located["colour"] = diverging_scale(value, max(abs(wer_low), abs(wer_high)), 220)
    else:
        located["colour"] = colour_scale(np.nan_to_num(value), wer_low, wer_high, 220)
    places = located["place"].fillna("") if "place" in located else [""] * len(located)
    label = "B − A" if diverging else "WER"
    located["tooltip"] = [
        f"<b>{html.escape(str(key))}</b> {html.escape(str(place))}<br/>{label} "
        f"{100 * v:{'+' if diverging else ''}.1f} %<br/>n = {words} words, {utts} utterances"
        for key, place, v, words, utts in zip(
            located["speaker_key"], places, value, located["words"], located["n_utterances"]
        )
    ]
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
