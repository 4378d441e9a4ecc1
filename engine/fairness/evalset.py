"""A checked table → per-speaker rows (location, attributes, mean embedding) and per-utterance edit counts.

Locations come from lat/lon when given, else the ZIP centroid, else the geocoded place name; the
geocoding report lists the match rate and every speaker whose place matched nothing. Location-derived
areas (geo_country, geo_us_state, geo_zip) join the speaker's attributes so cohorts can use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import kaldialign
import numpy as np
import pandas as pd

from engine.fairness import geocode
from engine.fairness.tables import EMBEDDING, attribute_columns
from engine.text import words

UNMATCHED_LISTED = 50


@dataclass
class GeocodeReport:
    speakers_with_place: int = 0
    matched: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (speaker_id, place)

    @property
    def match_rate(self) -> float:
        return self.matched / self.speakers_with_place if self.speakers_with_place else float("nan")

    def as_dict(self) -> dict:
        return {
            "speakers_with_place": self.speakers_with_place,
            "matched": self.matched,
            "match_rate": self.match_rate if self.speakers_with_place else None,
            "levels": self.levels,
            "unmatched": [list(u) for u in self.unmatched[:UNMATCHED_LISTED]],
            "unmatched_total": len(self.unmatched),
        }


@dataclass
class PreparedSet:
    speakers: pd.DataFrame  # speaker_key, lat, lon, place, zip, attributes (dict), embedding (bytes|None)
    utterances: (
        pd.DataFrame
    )  # utterance_key, speaker_key, reference, hypothesis, substitutions, deletions, insertions, ref_words
    geocoding: GeocodeReport


def score_utterances(
    references: pd.Series, hypotheses: pd.Series, progress: Callable[[int], None] | None = None
) -> pd.DataFrame:
    """S, D, I and reference words per utterance (the counts that are stored; rates never are).

    Same alignment as engine.metrics.wer.edit_counts, with each distinct text normalised only once:
    evaluation sets often repeat one reference (a read paragraph) thousands of times.
    """
    ref_codes, ref_unique = pd.factorize(references, sort=False)
    hyp_codes, hyp_unique = pd.factorize(hypotheses, sort=False)
    # object arrays first: iterating Arrow-backed strings one by one costs more than the conversion
    ref_words = [words(t) for t in np.asarray(ref_unique, dtype=object)]
    hyp_words = [words(t) for t in np.asarray(hyp_unique, dtype=object)]
    n = len(ref_codes)
    out = np.zeros((n, 4), dtype=np.int64)
    step = max(1, n // 100)
    for i, (r, h) in enumerate(zip(ref_codes.tolist(), hyp_codes.tolist())):
        ref, hyp = ref_words[r], hyp_words[h]
        if ref == hyp:  # a perfect hypothesis needs no alignment
            out[i, 3] = len(ref)
        else:
            d = kaldialign.edit_distance(ref, hyp)
            out[i] = (d["sub"], d["del"], d["ins"], len(ref))
        if progress is not None and (i + 1) % step == 0:
            progress(step)
    return pd.DataFrame(out, columns=["substitutions", "deletions", "insertions", "ref_words"], index=references.index)


def _locate(first: pd.DataFrame) -> tuple[pd.DataFrame, GeocodeReport]:
    """lat/lon per speaker, plus the areas they fall in, from the best location source each has."""
    n = len(first)
    lat = first["lat"].to_numpy(float) if "lat" in first else np.full(n, np.nan)
    lon = first["lon"].to_numpy(float) if "lon" in first else np.full(n, np.nan)
    country = np.full(n, None, dtype=object)
    state = np.full(n, None, dtype=object)
    report = GeocodeReport()
    zips = first["zip"].tolist() if "zip" in first else [""] * n
    places = first["place"].tolist() if "place" in first else [""] * n
    keys = first["speaker_id"].tolist()
    for i in range(n):
        found = None
        if zips[i]:
            found = geocode.geocode_zip(zips[i])
        if found is None and places[i]:
            report.speakers_with_place += 1
            found = geocode.geocode_place(places[i])
            if found is None:
                report.unmatched.append((keys[i], places[i]))
            else:
                report.matched += 1
                report.levels[found.level] = report.levels.get(found.level, 0) + 1
        if found is not None:
            if np.isnan(lat[i]):
                lat[i], lon[i] = found.lat, found.lon
            country[i] = geocode.country_name(found.country)
            state[i] = found.us_state
    areas = pd.DataFrame({"geo_country": country, "geo_us_state": state}, index=first.index)
    if "zip" in first:
        areas["geo_zip"] = [z[:5] if z else None for z in zips]
    return pd.DataFrame({"lat": lat, "lon": lon}, index=first.index).join(areas), report


def _attribute_dicts(first: pd.DataFrame, columns: list[str]) -> list[dict]:
    records = first[columns].to_dict("records") if columns else [{} for _ in range(len(first))]
    out = []
    for rec in records:
        clean = {}
        for key, value in rec.items():
            if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
                continue
            clean[key] = value.item() if isinstance(value, np.generic) else value
        out.append(clean)
    return out


def _numeric_where_possible(first: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """CSV attributes arrive as text; a column whose every value is a number becomes numeric (age, income)."""
    first = first.copy()
    for column in columns:
        values = first[column]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        number = pd.to_numeric(values.where(~blank), errors="coerce")
        if not (number.isna() & ~blank).any() and (~blank).any():
            first[column] = number
    return first


def prepare(table: pd.DataFrame, progress: Callable[[int], None] | None = None) -> PreparedSet:
    """Speakers and utterances ready to store; `progress(n)` is called as utterances are scored."""
    counts = score_utterances(table["reference"], table["hypothesis"], progress)
    utterances = pd.DataFrame(
        {
            "utterance_key": table["utterance_id"],
            "speaker_key": table["speaker_id"],
            "reference": table["reference"],
            "hypothesis": table["hypothesis"],
        }
    ).join(counts)

    first = table.drop_duplicates("speaker_id", keep="first").reset_index(drop=True)
    attrs = attribute_columns(table)
    first = _numeric_where_possible(first, attrs)
    located, report = _locate(first)
    attributes = _attribute_dicts(
        first.join(located[[c for c in located.columns if c.startswith("geo_")]]),
        attrs + [c for c in located.columns if c.startswith("geo_")],
    )
    speakers = pd.DataFrame(
        {
            "speaker_key": first["speaker_id"],
            "lat": located["lat"],
            "lon": located["lon"],
            "place": first["place"] if "place" in first else None,
            "zip": first["zip"] if "zip" in first else None,
            "attributes": attributes,
            "embedding": _mean_embeddings(table, first["speaker_id"]),
        }
    )
    return PreparedSet(speakers, utterances, report)


def _mean_embeddings(table: pd.DataFrame, speaker_keys: pd.Series) -> list[bytes | None]:
    """Per-speaker mean of utterance embeddings, stored as float32 bytes."""
    if EMBEDDING not in table:
        return [None] * len(speaker_keys)
    present = table[table[EMBEDDING].notna()]
    means = {
        key: np.mean(np.stack(group.tolist()), axis=0).astype(np.float32).tobytes()
        for key, group in present.groupby("speaker_id")[EMBEDDING]
    }
    return [means.get(key) for key in speaker_keys]
