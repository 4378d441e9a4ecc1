"""scripts/build_saa_demo.py: one shipped table with a hypothesis column per recogniser; a lost per-file cache
is refilled from it only after fresh runs reproduce shipped rows (real Whisper, pocketsphinx and resemblyzer on
real SAA audio)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from engine import config
from engine.fairness import demo
from engine.metrics.wer import edit_counts, wer

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_saa_demo.py"
# The two shortest recordings (11 s and 13 s), so the check recognises little audio.
FILES = ["audio/english_495.ogg", "audio/english_458.ogg"]
SAA = config.shared_data_dir() / "saa"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_saa_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def meta():
    table = pd.read_csv(SAA / "metadata.csv")
    return table.set_index("file").loc[FILES].reset_index()


def shipped_rows(meta: pd.DataFrame) -> pd.DataFrame:
    rows = pd.read_parquet(demo.DEMO_PARQUET).set_index("utterance_id")
    return rows.loc[[Path(f).stem for f in meta["file"]]].reset_index()


def test_seeding_checks_fresh_runs_of_each_recogniser_then_marks_the_seeded_rows(build, meta, tmp_path):
    rows = shipped_rows(meta)
    assert rows["hypothesis_whisper"].notna().all() and rows["hypothesis_pocketsphinx"].notna().all()
    shipped = tmp_path / "shipped.parquet"
    rows.to_parquet(shipped)
    cache = tmp_path / "cache"

    assert build.seed_from_shipped(meta, SAA, cache, shipped, n_check=1) == 2  # one file per recogniser
    for recogniser in ("whisper", "pocketsphinx"):
        checked, seeded = (json.loads(build.cache_path(cache, recogniser, f).read_text()) for f in FILES)
        assert "seeded_from" not in checked and checked["compute_s"] > 0  # recognised here, and it matched
        assert seeded["seeded_from"].endswith("shipped.parquet") and seeded["compute_s"] is None
        assert seeded["hypothesis"] == rows[demo.RECOGNISERS[recogniser].column][1]
    # the write step gives back the same table: hypotheses per recogniser, the embedding, the metadata
    out = tmp_path / "out.parquet"
    assert build.write_parquet(meta, cache, rows["reference"][0], out) == 2
    written = pd.read_parquet(out)
    for column in ("speaker_id", "native_language", "lat"):
        assert written[column].tolist() == rows[column].tolist()
    for recogniser in ("whisper", "pocketsphinx"):  # the checked file has its fresh text, the seeded one the shipped
        column = demo.RECOGNISERS[recogniser].column
        checked = json.loads(build.cache_path(cache, recogniser, FILES[0]).read_text())["hypothesis"]
        assert written[column].tolist() == [checked, rows[column][1]]
        assert wer(edit_counts(rows[column][0], checked)) <= build.RECHECK_WER


def test_a_shipped_row_that_does_not_reproduce_blocks_all_seeding(build, meta, tmp_path):
    tampered = shipped_rows(meta).assign(hypothesis_pocketsphinx=None)  # Whisper only: a faster check
    words = tampered.loc[0, "hypothesis_whisper"].split()
    tampered.loc[0, "hypothesis_whisper"] = " ".join(words[len(words) // 2 :])  # half the words gone
    shipped = tmp_path / "shipped.parquet"
    tampered.to_parquet(shipped)
    cache = tmp_path / "cache"

    with pytest.raises(SystemExit, match="differs from the shipped row"):
        build.seed_from_shipped(meta, SAA, cache, shipped, n_check=1)
    assert not cache.exists() or not any(cache.rglob("*.json"))
