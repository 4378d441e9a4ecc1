"""The land and borders under every map, drawn once into one Web Mercator image.

No basemap tiles exist offline, so the bundled outlines (`engine/assets/boundaries.geojson`) are the map's
ground. Drawn as vector layers (filled land plus 11,000 border segments) they cost a first visit of an
empty map 2.2 s more of software WebGL in headless Chromium on these 2 cores; as one image under the data
(deck.gl's BitmapLayer) 0.9 s (bench/map_cost.py). The image is in Web Mercator, the projection deck.gl's
map view uses, so its pixels line up with the vector layers drawn over it.
"""

from __future__ import annotations

import base64
import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw

from engine.fairness import mapdata

LAND_RGB = (235, 235, 228)
BORDER_RGB = (150, 150, 150)
WIDTH_PX = 4096  # the whole world's width: sharp up to deck.gl zoom 3 (4,096 px around the equator)
# Latitudes the image covers: no speaker lives further south or north, and Mercator stretches the poles.
SOUTH, NORTH = -60.0, 84.0
BOUNDS = [-180.0, SOUTH, 180.0, NORTH]  # [lon0, lat0, lon1, lat1], as BitmapLayer's `bounds`


def mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def pixel(lon: float, lat: float, width: int = WIDTH_PX) -> tuple[float, float]:
    """(x, y) in the image of a point; y grows southwards, as image rows do."""
    top, bottom = mercator_y(NORTH), mercator_y(SOUTH)
    y = mercator_y(min(max(lat, SOUTH), NORTH))
    return (lon + 180) / 360 * width, (top - y) / (top - bottom) * height(width)


def height(width: int = WIDTH_PX) -> int:
    return round(width * (mercator_y(NORTH) - mercator_y(SOUTH)) / (2 * math.pi))


def image(width: int = WIDTH_PX) -> Image.Image:
    """Land filled, country and US-state borders 1 px wide, the sea transparent (a three-colour palette:
    small and quick to encode)."""
    canvas = Image.new("P", (width, height(width)), 0)
    canvas.putpalette([255, 255, 255, *LAND_RGB, *BORDER_RGB])
    canvas.info["transparency"] = 0
    draw = ImageDraw.Draw(canvas)
    rings = [
        ring for f in mapdata.boundaries()["features"] for polygon in f["geometry"]["coordinates"] for ring in polygon
    ]
    for ring in rings:
        draw.polygon([pixel(lon, lat, width) for lon, lat in ring], fill=1)
    for ring in rings:  # borders after every fill, so a neighbour's land never covers them
        draw.line([pixel(lon, lat, width) for lon, lat in [*ring, ring[0]]], fill=2, width=1)
    return canvas


@lru_cache(maxsize=1)
def data_url() -> str:
    """The image as a PNG data URL (about 0.1 MB), built once per process."""
    buffer = io.BytesIO()
    image().save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
