"""The map's outline tables: every ring edge once, closed, coloured per ring; the bundled borders."""

from __future__ import annotations

from engine.fairness import mapdata


def test_outline_table_closes_each_ring_and_colours_it():
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    closed_triangle = [[5, 5], [6, 5], [5, 6], [5, 5]]  # GeoJSON repeats the first point: no zero-length edge
    table = mapdata.outline_table([square, closed_triangle], [[1, 1, 1, 255], [2, 2, 2, 255]])
    assert table["source"].tolist()[:4] == square
    assert table["target"].tolist()[:4] == [[1, 0], [1, 1], [0, 1], [0, 0]]
    assert table["target"].tolist()[4:] == [[6, 5], [5, 6], [5, 5]]
    assert table["colour"].tolist() == [[1, 1, 1, 255]] * 4 + [[2, 2, 2, 255]] * 3
    assert "colour" not in mapdata.outline_table([square])


def test_boundary_outlines_cover_every_bundled_ring():
    rings = [r for f in mapdata.boundaries()["features"] for p in f["geometry"]["coordinates"] for r in p]
    table = mapdata.boundary_outlines()
    assert len(table) == sum(len(r) - (r[0] == r[-1]) for r in rings)
    assert (table["source"] != table["target"]).all()
