"""nice -n 10 .venv/bin/python bench/map_cost.py [--repeats 4]

What a deck.gl map costs a first visit in headless Chromium (software WebGL here), one variant at a time on
an otherwise empty Streamlit page: no map, an empty map, the bundled land and borders as vector layers
(filled GeoJSON + LineLayer segments, as the pages drew them before) or as the basemap image the pages draw
(engine/fairness/basemap.py), and the image with 1,166 speaker points. Prints p50 and min seconds to fully
rendered (bench/app_harness.wait_rendered) per variant; the first round of visits is a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from app_harness import REPO_ROOT, free_port, new_browser, wait_rendered

PAGE = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
import pydeck as pdk
import streamlit as st
from engine.fairness import basemap, mapdata
from pages._fairness_shared import CompactDeck, basemap_layer, outline_layer

variant = st.query_params.get("v", "none")
st.title("map cost")
rings = [r for f in mapdata.boundaries()["features"] for p in f["geometry"]["coordinates"] for r in p]
land = [*basemap.LAND_RGB, 255]
vector = [
    pdk.Layer("GeoJsonLayer", mapdata.boundaries(), stroked=False, filled=True, get_fill_color=land),
    outline_layer(mapdata.outline_table(rings), "borders", 0.6, [*basemap.BORDER_RGB, 255]),
]
rng = np.random.default_rng(0)
lon, lat = rng.uniform(-120, 120, 1166), rng.uniform(-40, 60, 1166)
points = [{{"lon": float(x), "lat": float(y)}} for x, y in zip(lon, lat)]
scatter = pdk.Layer("ScatterplotLayer", points, get_position=["lon", "lat"], get_fill_color=[200, 30, 30, 255],
                    radius_min_pixels=2.5, pickable=True)
layers = {{"empty map": [], "vector land and borders": vector, "basemap image": [basemap_layer()],
          "basemap image + points": [basemap_layer(), scatter]}}.get(variant)
if layers is not None:
    view = pdk.ViewState(longitude=0, latitude=20, zoom=1)
    st.pydeck_chart(CompactDeck(layers=layers, map_style=None, initial_view_state=view), height=520)
"""
VARIANTS = ["no map", "empty map", "vector land and borders", "basemap image", "basemap image + points"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    page = Path(tempfile.mkdtemp(prefix="crosstalk-map-cost-")) / "page.py"
    page.write_text(PAGE.format(root=str(REPO_ROOT)))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(page),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for round_ in range(args.repeats + 1):
            for variant in VARIANTS:
                driver = new_browser()
                try:
                    started = time.perf_counter()
                    driver.get(f"{url}/?v={urllib.parse.quote(variant)}")
                    seconds = wait_rendered(driver, started, timeout_s=120)
                finally:
                    driver.quit()
                if round_:
                    times[variant].append(seconds)
        print(f"{'variant':<26}| first visit p50 s | min s | vs no map p50")
        base = statistics.median(times["no map"])
        for variant in VARIANTS:
            p50 = statistics.median(times[variant])
            print(f"{variant:<26}|  {p50:15.2f}  | {min(times[variant]):5.2f} | {p50 - base:+.2f}")
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
