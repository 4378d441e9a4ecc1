"""scripts/build_saa_demo.py --seed-from-shipped: a lost per-file cache is refilled from the shipped parquet
only after a fresh recognition reproduces a shipped row (real cascade ASR and resemblyzer on real SAA audio)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from engine import config
from engine.fairness import demo

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_saa_demo.py"
# The two shortest recordings (11 s and 13 s), so the check recognises little audio.
FILES = ["audio/english_495.ogg", "audio/english_458.ogg"]


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_saa_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def meta():
    table = pd.read_csv(config.shared_data_dir() / "saa" / "metadata.csv")
    return table.set_index("file").loc[FILES].reset_index()


def shipped_rows(meta: pd.DataFrame) -> pd.DataFrame:
    rows = pd.read_parquet(demo.DEMO_PARQUET).set_index("utterance_id")
    return rows.loc[[Path(f).stem for f in meta["file"]]].reset_index()


def test_seeding_checks_a_fresh_run_then_marks_the_seeded_rows(build, meta, tmp_path):
    shipped = tmp_path / "shipped.parquet"
    shipped_rows(meta).to_parquet(shipped)
    cache = tmp_path / "cache"
    cache.mkdir()

    assert build.seed_from_shipped(meta, config.shared_data_dir() / "saa", cache, shipped, n_check=1) == 1
    checked, seeded = (json.loads(build.cache_path(cache, f).read_text()) for f in FILES)
    assert "seeded_from" not in checked and checked["compute_s"] > 0  # recognised here, and it matched
    assert seeded["seeded_from"].endswith("shipped.parquet") and seeded["compute_s"] is None
    assert seeded["hypothesis"] == shipped_rows(meta)["hypothesis"][1]


def test_a_shipped_row_that_does_not_reproduce_blocks_all_seeding(build, meta, tmp_path):
    tampered = shipped_rows(meta)
    tampered.loc[0, "hypothesis"] += " stella"
    shipped = tmp_path / "shipped.parquet"
    tampered.to_parquet(shipped)
    cache = tmp_path / "cache"
    cache.mkdir()

    with pytest.raises(SystemExit, match="differs from the shipped row"):
        build.seed_from_shipped(meta, config.shared_data_dir() / "saa", cache, shipped, n_check=1)
    assert list(cache.iterdir()) == []
