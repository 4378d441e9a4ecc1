"""AppTest for the Regional WER and Cohorts pages over a real (temporary SQLite) database: one system, and two
systems on the same speakers compared side by side."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine import persistence
from engine.fairness.importing import import_frame
from engine.fairness.synthetic import Plan, make_set, with_embeddings

PAGES = Path(__file__).resolve().parent.parent / "pages"
BOX = (-100.0, 30.0, -90.0, 40.0)
# Set names are user text: Markdown in them must show as typed.
SET_A = "planted **A** :red[x]"
SET_B = "perfect [B](http://example.com)"


@pytest.fixture
def planted_sets(db_url):
    """System A with a planted bad box and a planted bad embedding cluster; system B, on the same speakers
    and utterances, recognises every word (WER 0)."""
    synthetic = make_set(Plan(n_utterances=2_000, utterances_per_speaker=5, box=BOX, raised_cluster=3, seed=9))
    frame = with_embeddings(synthetic)
    import_frame(frame, SET_A, attribution="synthetic *test* data", url=db_url)
    import_frame(frame.assign(hypothesis=frame["reference"]), SET_B, url=db_url)
    return synthetic


def open_page(name: str, compare_with: str | None) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)
    at.run()
    key = "regions" if name == "regional_wer" else "cohorts"
    at.selectbox(key=f"{key}-set").set_value(SET_A).run()
    at.selectbox(key=f"{key}-compare").set_value(compare_with or "(no comparison)").run()
    assert not at.exception and not at.error
    return at


def test_regional_wer_page_names_regions_and_reuses_the_stored_analysis(planted_sets):
    at = open_page("regional_wer", None)
    table = at.dataframe[0].value
    assert table["Rank"].tolist() == list(range(1, len(table) + 1))
    assert "B: WER %" not in table
    assert table.loc[0, "Flagged"] == "⚑ mitigate"
    # a name a person reads (the planted box lies in the USA), with the speaker count; bounds are detail
    assert table["Region"].str.contains(r"USA: [A-Z]{2}").all() and table["Region"].str.contains(" speakers").all()
    assert table["Region"].is_unique and table["Bounds (lon, lat)"].str.startswith("lon ").all()
    info = persistence.get_evaluation_set(SET_A)
    stored = persistence.latest_analysis(info.id, "regions")
    assert stored.rows[0]["wer"] == pytest.approx(table.loc[0, "A: WER %"] / 100, abs=1e-3)
    # user text literally: the set name as plain text, the attribution's Markdown escaped
    assert any(SET_A in t.value for t in at.text)
    assert any(r"synthetic \*test\* data" in c.value for c in at.caption)

    at.run()  # a rerun reads the stored analysis instead of computing another one
    assert persistence.latest_analysis(info.id, "regions").id == stored.id
    assert at.selectbox(key="regions-rank").value == 1
    assert any("errors /" in m.value for m in at.markdown)

    at.selectbox(key="regions-attribute").set_value("sex").run()
    at.selectbox(key="regions-value").set_value("female").run()
    assert not at.exception
    assert persistence.latest_analysis(info.id, "regions").params["where"] == {"sex": "female"}


def test_regional_wer_page_compares_two_systems_on_the_same_regions(planted_sets):
    at = open_page("regional_wer", SET_B)
    table = at.dataframe[0].value
    assert (table["B: WER %"] == 0).all()  # B recognises every word
    assert table["B − A (points)"].to_numpy() == pytest.approx(-table["A: WER %"].to_numpy(), abs=0.11)
    assert any(SET_B in t.value for t in at.text)
    for view in ("B", "diff", "A"):  # the map shows either system or the difference
        at.radio(key="regions-map-view").set_value(view).run()
        assert not at.exception
    # a second system on other speakers is refused in one sentence, and the page still shows A
    other = make_set(Plan(n_utterances=200, utterances_per_speaker=5, seed=1))
    import_frame(other.utterances.assign(speaker_id="x" + other.utterances["speaker_id"]), "other speakers")
    at.run()
    at.selectbox(key="regions-compare").set_value("other speakers").run()
    assert not at.exception and "does not hold the same speakers" in at.warning[0].value
    assert "B: WER %" not in at.dataframe[0].value


def test_cohorts_page_states_the_bottom_cohorts_and_compares_systems(planted_sets):
    at = open_page("cohorts", SET_B)
    labels = [m.label for m in at.metric]
    assert labels.count("Bottom-cohort WER") == 2 and labels.count("WER gap") == 2
    stated = [m.value for m in at.markdown if m.value.startswith("**Bottom cohort:**")]
    assert len(stated) == 2 and all("**Compared with:**" in s for s in stated)
    assert sum("System B on the same cohorts" in m.value for m in at.markdown) == 2
    info = persistence.get_evaluation_set(SET_A)
    automatic = persistence.latest_analysis(info.id, "cohorts", "automatic")
    bottom = next(r for r in automatic.rows if r["is_bottom"])
    planted = {f"s{i}" for i in (planted_sets.speaker_cluster == 3).nonzero()[0]}
    members = set(persistence.cohort_member_ids(bottom["id"]))
    keys = persistence.speaker_totals(info.id).set_index("speaker_id")["speaker_key"]
    assert {keys[m] for m in members} == planted
    tables = [d.value for d in at.dataframe if "Cohort" in d.value]
    assert len(tables) == 2 and all((t["B: WER %"] == 0).all() for t in tables)
    assert any(np.isclose(t["A: WER %"], round(100 * bottom["wer"], 1)).any() for t in tables)

    at.selectbox(key="cohorts-compare").set_value("(no comparison)").run()
    assert not at.exception and all("B: WER %" not in d.value for d in at.dataframe)


def test_pages_without_any_set_say_how_to_import_one(db_url):
    for page in (str(PAGES / "regional_wer.py"), str(PAGES / "cohorts.py")):
        at = AppTest.from_file(page, default_timeout=60)
        at.run()
        assert not at.exception
        assert "fairness import" in at.info[0].value
