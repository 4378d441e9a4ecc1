"""The clustering tree over (lon, lat): a planted box of raised WER comes out as the worst region."""

from __future__ import annotations

import numpy as np

from engine.fairness import stats
from engine.fairness.regions import RegionParams, build_regions
from engine.fairness.synthetic import Plan, make_set

BOX = (-100.0, 30.0, -90.0, 40.0)


def speaker_arrays(plan: Plan):
    synthetic = make_set(plan)
    u = synthetic.utterances
    ref = u["reference"].str.split().str.len().to_numpy()
    errors = np.array(
        [sum(a != b for a, b in zip(r.split(), h.split())) for r, h in zip(u["reference"], u["hypothesis"])]
    )
    speaker = u["speaker_id"].str[1:].astype(int).to_numpy()
    n = speaker.max() + 1
    lon = np.zeros(n)
    lat = np.zeros(n)
    lon[speaker], lat[speaker] = u["lon"], u["lat"]
    return lon, lat, np.bincount(speaker, errors, n), np.bincount(speaker, ref, n), synthetic.speaker_in_box


def test_planted_box_is_the_worst_region_and_flagged():
    lon, lat, errors, words, in_box = speaker_arrays(Plan(n_utterances=12_000, box=BOX, seed=2))
    regions = build_regions(lon, lat, errors, words, RegionParams(max_regions=8))
    worst = regions[0]
    assert worst.rank == 1 and worst.flagged
    assert in_box[worst.speaker_index].mean() >= 0.9
    x0, y0, x1, y1 = worst.clipped
    assert x0 >= BOX[0] - 2 and x1 <= BOX[2] + 2 and y0 >= BOX[1] - 2 and y1 <= BOX[3] + 2
    # every speaker in exactly one region; region numbers are Σ errors / Σ words of its speakers
    members = np.concatenate([r.speaker_index for r in regions])
    assert sorted(members.tolist()) == list(range(len(lon)))
    for r in regions:
        assert r.wer == stats.corpus_wer(errors[r.speaker_index], words[r.speaker_index])
        assert r.ci_low <= r.wer <= r.ci_high
        assert len(r.speaker_index) >= 10
    assert [r.rank for r in regions] == list(range(1, len(regions) + 1))
    assert all(a.wer >= b.wer for a, b in zip(regions, regions[1:]))
    assert not any(r.flagged for r in regions if in_box[r.speaker_index].mean() < 0.5)


def test_no_disparity_with_significance_required_gives_one_region():
    lon, lat, errors, words, _ = speaker_arrays(Plan(n_utterances=6_000, seed=4))
    regions = build_regions(lon, lat, errors, words, RegionParams(alpha=0.01, n_boot=300))
    assert len(regions) == 1 and not regions[0].flagged


def test_min_sizes_and_max_regions_are_respected():
    lon, lat, errors, words, _ = speaker_arrays(Plan(n_utterances=8_000, box=BOX, seed=5))
    regions = build_regions(lon, lat, errors, words, RegionParams(min_speakers=40, min_words=6000, max_regions=5))
    assert 2 <= len(regions) <= 5
    assert all(len(r.speaker_index) >= 40 and r.words >= 6000 for r in regions)


def test_significance_keeps_a_real_split():
    east_coast = (-80.0, 26.0, -68.0, 48.5)  # one cut can isolate it, so the root split is a real one
    lon, lat, errors, words, in_box = speaker_arrays(Plan(n_utterances=8_000, box=east_coast, seed=6))
    regions = build_regions(lon, lat, errors, words, RegionParams(min_speakers=20, alpha=0.01, n_boot=300))
    assert len(regions) >= 2
    assert in_box[regions[0].speaker_index].mean() >= 0.9


def test_region_names_list_the_places_their_speakers_come_from():
    from engine.fairness import places

    areas = (
        [("United States", "NY")] * 40
        + [("United States", "NJ")] * 25
        + [("United States", "PA")] * 10
        + [("United States", "CT")] * 3
        + [("United States", "MA")] * 1
    )
    lat, lon = np.full(len(areas), 40.7), np.full(len(areas), -74.0)
    (name,) = places.group_names([list(range(len(areas)))], areas, lat, lon)
    assert name == "USA: NY, NJ, PA and 2 more states — 79 speakers"
    mixed = [("United Kingdom", None)] * 5 + [("Ireland", None)] * 3 + [("France", None)] * 2 + [("Spain", None)]
    assert places.place_name(mixed) == "UK, Ireland, France and 1 more country"
    # two groups whose places read the same get their centres, so the names stay apart
    west, east = [("United States", "CA")] * 12, [("United States", "CA")] * 12
    lat, lon = np.array([34.0] * 12 + [38.5] * 12), np.array([-118.2] * 12 + [-121.5] * 12)
    names = places.group_names([list(range(12)), list(range(12, 24))], west + east, lat, lon)
    assert names[0] != names[1] and all(n.startswith("USA: CA (around ") for n in names)
    assert "34.0° N, 118.2° W" in names[0]


def test_speakers_with_only_coordinates_are_named_by_the_nearest_city():
    from engine.fairness import places

    areas = places.speaker_areas(
        [{}, {}, {"geo_country": "Canada"}], np.array([40.71, 51.51, 0.0]), np.array([-74.01, -0.13, 0.0])
    )
    assert areas == [("United States", "NY"), ("United Kingdom", None), ("Canada", None)]
    assert places.bounds_text([-80.12, 38.0, -71.9, 44.31]) == "lon −80.1 … −71.9, lat 38.0 … 44.3"
