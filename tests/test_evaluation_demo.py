"""Shipped evaluation runs: a real SST evaluation (tiny untrained checkpoint, real simulated meeting) stores
the checkpoint it scored; export → seed into a fresh database keeps the run identical, and seeding is
idempotent. The shipped asset, when present, scored the shipped checkpoint."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from db import init_db
from engine import config, persistence
from engine.__main__ import main
from engine.backends import get_backend
from engine.evaluation_demo import DEMO_JSON, export_runs, seed_demo_runs
from engine.simulate.sets import SetRecipe, write_set
from engine.sst.package import package_id as checkpoint_id
from engine.sst.package import save_package
from tests.conftest import REPO_ROOT
from tests.sst_models import tiny_model


@pytest.fixture
def tiny_sst(tmp_path, monkeypatch):
    """models/sst.pt replaced by a tiny untrained checkpoint at step 200; the backend cache is cleared on both
    sides so neither this test nor a later one decodes with another test's model."""
    folder = tmp_path / "models"
    save_package(folder / "sst.pt", tiny_model(), {"step": 200})
    monkeypatch.setattr(config, "models_dir", lambda: folder)
    get_backend.cache_clear()
    yield folder / "sst.pt"
    get_backend.cache_clear()


@pytest.fixture
def one_meeting(data_dir):
    return write_set(
        data_dir / "sets" / "one", SetRecipe(1, "balanced", 11, (2, 2), "dev", duration_s=(6.0, 7.0)), workers=1
    )


def fresh_database(tmp_path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    init_db(url)
    return url


def test_sst_run_records_its_checkpoint_and_survives_export_and_seeding(tiny_sst, one_meeting, db_url, tmp_path):
    assert main(["evaluate", "--backend", "sst", "--set", str(one_meeting), "--limit", "1"]) == 0
    [run] = persistence.list_evaluation_runs(url=db_url)
    sha = hashlib.sha256(tiny_sst.read_bytes()).hexdigest()[:12]
    assert run.params == {
        "set_dir": "one",
        "limit": 1,
        "oracle_speakers": False,
        "checkpoint": {"sha256": sha, "step": 200},
        "turn_source": "activity",
        "decoder_pass": True,
    }
    assert run.results["overall"]["orc_wer"]["words"] > 0

    asset = tmp_path / "evaluation_demo.json"
    export_runs([run.id], asset, url=db_url)
    assert seed_demo_runs(db_url, asset) == 0  # the run it came from is there already

    other = fresh_database(tmp_path, "other.sqlite")
    older = {**run.params, "checkpoint": {"sha256": "0" * 12, "step": 100}}
    with persistence.session_scope(other) as s:  # same set, another checkpoint
        persistence.save_evaluation_run(s, "sst", "one", older, run.results)
    assert seed_demo_runs(other, asset) == 1
    assert seed_demo_runs(other, asset) == 0
    seeded = next(r for r in persistence.list_evaluation_runs(url=other) if r.params == run.params)
    assert (seeded.backend, seeded.set_name, seeded.results) == ("sst", "one", run.results)


def test_no_asset_seeds_nothing_and_a_missing_run_is_one_sentence(db_url, tmp_path):
    assert seed_demo_runs(db_url, tmp_path / "absent.json") == 0
    assert persistence.list_evaluation_runs(url=db_url) == []
    before = DEMO_JSON.read_bytes() if DEMO_JSON.exists() else None
    done = subprocess.run(
        [sys.executable, "scripts/export_evaluation_demo.py", "999"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.strip() == "error: There is no evaluation run 999."
    assert (DEMO_JSON.read_bytes() if DEMO_JSON.exists() else None) == before  # nothing (half-)written


def test_the_shipped_runs_scored_the_shipped_checkpoint():
    if not DEMO_JSON.exists():
        pytest.skip(f"{DEMO_JSON.name} is not shipped yet (scripts/export_evaluation_demo.py writes it)")
    runs = json.loads(DEMO_JSON.read_text())["runs"]
    shipped = checkpoint_id(config.models_dir() / "sst.pt")
    assert {r["backend"] for r in runs} >= {"sst", "cascade"}
    assert all(r["params"]["checkpoint"]["sha256"] == shipped for r in runs if r["backend"] == "sst"), (
        "re-evaluate SST on models/sst.pt and re-export (docs/evaluation.md)"
    )
