"""AppTest for the Regional WER and Cohorts pages over a real (temporary SQLite) database."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import persistence
from engine.fairness.importing import import_frame
from engine.fairness.synthetic import Plan, make_set, with_embeddings

PAGES = Path(__file__).resolve().parent.parent / "pages"
BOX = (-100.0, 30.0, -90.0, 40.0)


@pytest.fixture
def planted_set(db_url):
    synthetic = make_set(Plan(n_utterances=2_000, utterances_per_speaker=5, box=BOX, raised_cluster=3, seed=9))
    import_frame(with_embeddings(synthetic), "planted", attribution="synthetic test data", url=db_url)
    return synthetic


def test_regional_wer_page_computes_then_reuses_the_stored_analysis(planted_set):
    at = AppTest.from_file(str(PAGES / "regional_wer.py"), default_timeout=120)
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["Rank"].tolist() == list(range(1, len(table) + 1))
    assert table.loc[0, "Flagged"] == "⚑ mitigate"
    assert any("synthetic test data" in c.value for c in at.caption)
    info = persistence.get_evaluation_set("planted")
    stored = persistence.latest_analysis(info.id, "regions")
    assert stored is not None and stored.rows[0]["wer"] == pytest.approx(table.loc[0, "WER %"] / 100, abs=1e-4)

    at.run()  # a rerun reads the stored analysis instead of computing another one
    assert persistence.latest_analysis(info.id, "regions").id == stored.id
    # the click-through: the worst utterances of the chosen region, aligned
    assert at.selectbox(key="regions-rank").value == 1
    assert any("errors /" in m.value for m in at.markdown)

    at.selectbox(key="regions-attribute").set_value("sex").run()
    at.selectbox(key="regions-value").set_value("female").run()
    assert not at.exception
    assert persistence.latest_analysis(info.id, "regions").params["where"] == {"sex": "female"}


def test_cohorts_page_shows_both_methods_side_by_side(planted_set):
    at = AppTest.from_file(str(PAGES / "cohorts.py"), default_timeout=120)
    at.run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels.count("Bottom-cohort WER") == 2 and labels.count("WER gap") == 2
    info = persistence.get_evaluation_set("planted")
    automatic = persistence.latest_analysis(info.id, "cohorts", "automatic")
    bottom = next(r for r in automatic.rows if r["is_bottom"])
    planted = {f"s{i}" for i in (planted_set.speaker_cluster == 3).nonzero()[0]}
    members = set(persistence.cohort_member_ids(bottom["id"]))
    keys = persistence.speaker_totals(info.id).set_index("speaker_id")["speaker_key"]
    assert {keys[m] for m in members} == planted


def test_pages_without_any_set_say_how_to_import_one(db_url):
    for page in (str(PAGES / "regional_wer.py"), str(PAGES / "cohorts.py")):
        at = AppTest.from_file(page, default_timeout=60)
        at.run()
        assert not at.exception
        assert "fairness import" in at.info[0].value
