"""Fairness engine at scale on synthetic evaluation sets (planted box and cluster), printed as a table.

    nice -n 10 .venv/bin/python bench/fairness_scale.py                       # 10k, 100k, 1M utterances
    nice -n 10 .venv/bin/python bench/fairness_scale.py --sizes 10000 100000  # quicker

Per size (20 utterances per speaker, 12 words each; a fresh SQLite file in a temp dir):
  import      check + score (S/D/I/N per utterance) + bulk insert, `import_frame` as the CLI runs it
  aggregate   Σ errors, Σ words per speaker in SQL (what every analysis starts from)
  tree        the region tree over speaker totals (no CIs)
  CIs         bootstrap over speakers for all regions (1000 replicates)
  rerun       the Regional WER page rerun on the stored analysis (AppTest, second run; 100k set only)
Separately: automatic cohorts (k-means + CIs + permutation test) on 100k speakers with 32-d embeddings,
and the size of the map's data for 10k speaker points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.fairness import cohorts, regions, stats
from engine.fairness.synthetic import Plan, make_set

BOX = (-100.0, 30.0, -90.0, 40.0)
PAGE = Path(__file__).resolve().parent.parent / "pages" / "regional_wer.py"


def timed(fn):
    """(result, wall seconds, CPU seconds of this process). On a shared machine the CPU seconds are the cost;
    the wall seconds also hold the time other people's processes had the cores."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - start, time.process_time() - cpu


def bench_size(n: int, measure_page: bool) -> dict:
    from db import init_db
    from engine import persistence
    from engine.fairness import analyses
    from engine.fairness.importing import import_frame

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CROSSTALK_DATA_DIR"] = tmp
        os.environ.pop("CROSSTALK_DATABASE_URL", None)
        url = f"sqlite:///{tmp}/bench.sqlite"
        init_db(url)
        synthetic = make_set(Plan(n_utterances=n, box=BOX, seed=1))
        result, *t_import = timed(lambda: import_frame(synthetic.utterances, f"synthetic-{n}", url=url))
        totals, *t_aggregate = timed(lambda: persistence.speaker_totals(result.info.id, url=url))
        lon, lat = totals["lon"].to_numpy(), totals["lat"].to_numpy()
        errors, words = totals["errors"].to_numpy(float), totals["words"].to_numpy(float)
        params = regions.RegionParams(min_speakers=regions.auto_min_speakers(len(totals)), n_boot=1)
        found, *t_tree = timed(lambda: regions.build_regions(lon, lat, errors, words, params))
        groups = np.empty(len(totals), np.int64)
        for g, r in enumerate(found):
            groups[r.speaker_index] = g
        _, *t_ci = timed(lambda: stats.group_wer_with_ci(errors, words, groups, len(found), 1000))
        row = {
            "utterances": n,
            "speakers": len(totals),
            "import_s": t_import,
            "aggregate_s": t_aggregate,
            "tree_s": t_tree,
            "regions": len(found),
            "ci_s": t_ci,
            "rerun_s": None,
        }
        if measure_page:
            from streamlit.testing.v1 import AppTest

            os.environ["CROSSTALK_DATABASE_URL"] = url
            analyses.run_regions(f"synthetic-{n}", regions.RegionParams())
            page = AppTest.from_file(str(PAGE), default_timeout=600)
            page.run()
            reruns = np.array([timed(page.run)[1:] for _ in range(5)])
            row["rerun_s"] = np.median(reruns, axis=0).tolist()
            os.environ.pop("CROSSTALK_DATABASE_URL")
        return row


def bench_kmeans(n_speakers: int = 100_000) -> dict:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 32)) * 3
    label = rng.integers(0, 8, n_speakers)
    embeddings = (centres[label] + rng.normal(size=(n_speakers, 32))).astype(np.float32)
    words = rng.integers(100, 400, n_speakers).astype(float)
    errors = rng.binomial(words.astype(int), np.where(label == 3, 0.3, 0.1)).astype(float)
    _, *t_kmeans = timed(lambda: cohorts.kmeans_labels(embeddings, 8))
    _, *t_all = timed(lambda: cohorts.automatic(embeddings, errors, words, cohorts.CohortParams(k=8)))
    return {"speakers": n_speakers, "kmeans_s": t_kmeans, "automatic_total_s": t_all}


def map_payload_mb(n_points: int = 10_000) -> float:
    """Bytes of deck.gl JSON the browser receives for the map with n speaker points
    (interactivity proxy): the points over the basemap image."""
    import pandas as pd
    import pydeck as pdk

    from engine.fairness import mapdata

    rng = np.random.default_rng(0)
    totals = pd.DataFrame(
        {
            "speaker_id": range(n_points),
            "speaker_key": [f"s{i}" for i in range(n_points)],
            "lon": rng.uniform(-124, -68, n_points),
            "lat": rng.uniform(26, 48, n_points),
            "place": "",
            "errors": rng.integers(0, 50, n_points),
            "words": 240,
            "n_utterances": 20,
        }
    )
    from pages._fairness_shared import CompactDeck, basemap_layer

    points = mapdata.speaker_points(totals, 0.0, 0.3)[["lon", "lat", "colour", "tooltip"]]
    deck = CompactDeck(
        layers=[
            basemap_layer(),
            pdk.Layer("ScatterplotLayer", points, get_position=["lon", "lat"]),
        ],
        map_style=None,
    )
    return len(deck.to_json()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--kmeans-speakers", type=int, default=100_000)
    args = parser.parse_args()

    rows = [bench_size(n, measure_page=n == 100_000) for n in args.sizes]

    def both(t) -> str:
        return "—" if t is None else f"{t[0]:.3f} / {t[1]:.3f}" if t[0] < 10 else f"{t[0]:.1f} / {t[1]:.1f}"

    print("seconds as wall / CPU of this process")
    print(
        "| utterances | speakers | import | aggregate (SQL) | region tree | regions | CIs, all regions | page rerun |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['utterances']:,} | {r['speakers']:,} | {both(r['import_s'])} | {both(r['aggregate_s'])} | "
            f"{both(r['tree_s'])} | {r['regions']} | {both(r['ci_s'])} | {both(r['rerun_s'])} |"
        )
    km = bench_kmeans(args.kmeans_speakers)
    print(
        f"\nautomatic cohorts, {km['speakers']:,} speakers × 32-d: k-means {both(km['kmeans_s'])} s; "
        f"with CIs, gap CI and permutation test {both(km['automatic_total_s'])} s"
    )
    print(f"map data for 10k speaker points + outlines: {map_payload_mb():.1f} MB of deck.gl JSON")
    print(json.dumps({"sizes": rows, "kmeans": km}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
