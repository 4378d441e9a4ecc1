"""The map's outline tables (every ring edge once, closed, coloured per ring) and its basemap image."""

from __future__ import annotations

import math

import pytest

from engine.fairness import basemap, mapdata


def test_outline_table_closes_each_ring_and_colours_it():
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    closed_triangle = [[5, 5], [6, 5], [5, 6], [5, 5]]  # GeoJSON repeats the first point: no zero-length edge
    table = mapdata.outline_table([square, closed_triangle], [[1, 1, 1, 255], [2, 2, 2, 255]])
    assert table["source"].tolist()[:4] == square
    assert table["target"].tolist()[:4] == [[1, 0], [1, 1], [0, 1], [0, 0]]
    assert table["target"].tolist()[4:] == [[6, 5], [5, 6], [5, 5]]
    assert table["colour"].tolist() == [[1, 1, 1, 255]] * 4 + [[2, 2, 2, 255]] * 3
    assert "colour" not in mapdata.outline_table([square])


def test_basemap_puts_land_borders_and_sea_where_the_bundled_outlines_say():
    picture = basemap.image(width=1024)
    assert picture.size == (1024, basemap.height(1024))

    def colour(lon, lat):
        x, y = basemap.pixel(lon, lat, 1024)
        return picture.convert("RGBA").getpixel((int(x), int(y)))

    assert colour(-98.0, 39.0) == (*basemap.LAND_RGB, 255)  # Kansas
    assert colour(25.0, -25.0) == (*basemap.LAND_RGB, 255)  # Botswana
    assert colour(-150.0, 0.0)[3] == 0  # the Pacific
    assert colour(-30.0, 40.0)[3] == 0  # the Atlantic
    # The 49th parallel is the US–Canada border from 95° W to the Rockies: grey on that row, land beside it.
    x, y = basemap.pixel(-105.0, 49.0, 1024)
    rows = [picture.convert("RGBA").getpixel((int(x), int(y) + dy))[:3] for dy in (-1, 0, 1)]
    assert tuple(basemap.BORDER_RGB) in rows


def test_basemap_rows_follow_web_mercator():
    # Rows are Mercator y, not latitude: 60° N lies 2.4 times as far from the equator as 30° N, not twice.
    _, equator = basemap.pixel(0.0, 0.0)
    _, thirty = basemap.pixel(0.0, 30.0)
    _, sixty = basemap.pixel(0.0, 60.0)
    assert (equator - sixty) / (equator - thirty) == pytest.approx(
        math.log(math.tan(math.radians(75))) / math.log(math.tan(math.radians(60)))
    )
    assert basemap.pixel(-180.0, basemap.NORTH) == (0.0, 0.0)
    assert basemap.pixel(180.0, basemap.SOUTH) == (basemap.WIDTH_PX, basemap.height())
