"""AppTest for the Regional WER and Cohorts pages over a real (temporary SQLite) database: one system, and two
systems on the same speakers compared side by side."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
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


def plain(text: str) -> str:
    """What a person reads in a table cell: the page escapes user text for st.table's Markdown."""
    return html.unescape(re.sub(r"\\([^\w\s])", r"\1", str(text))).replace("\u2060", "")


def table(at: AppTest, i: int = 0) -> pd.DataFrame:
    """The i-th st.table as shown: headers and text cells unescaped, numbers as they are."""
    frame = at.table[i].value
    frame = frame.rename(columns=plain)
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(plain)
    return frame


def wer_of(cell: str) -> float:
    """ "25.7 (13.0–42.3)" → 25.7"""
    return float(cell.split(" ")[0])


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
    ranked = table(at)
    assert ranked["Rank"].tolist() == list(range(1, len(ranked) + 1))
    assert "B: WER % (95 % CI)" not in ranked
    assert ranked.loc[0, "Flagged"] == "⚑ mitigate"
    # a name a person reads (the planted box lies in the USA), with the speaker count; bounds are detail
    assert ranked["Region"].str.contains(r"USA: [A-Z]{2}").all() and ranked["Region"].str.contains(" speakers").all()
    assert ranked["Region"].is_unique and table(at, 1)["Bounds (lon, lat)"].str.startswith("lon ").all()
    info = persistence.get_evaluation_set(SET_A)
    stored = persistence.latest_analysis(info.id, "regions")
    assert stored.rows[0]["wer"] == pytest.approx(wer_of(ranked.loc[0, "A: WER % (95 % CI)"]) / 100, abs=1e-3)
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
    ranked = table(at)
    wer_a, wer_b = ranked["A: WER % (95 % CI)"].map(wer_of), ranked["B: WER % (95 % CI)"].map(wer_of)
    assert (wer_b == 0).all()  # B recognises every word
    assert ranked["B − A, points (95 % CI)"].map(wer_of).to_numpy() == pytest.approx(-wer_a.to_numpy(), abs=0.11)
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
    assert "B: WER % (95 % CI)" not in table(at)


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
    tables = [table(at, i) for i in range(len(at.table))]
    tables = [t for t in tables if "Cohort" in t]
    assert len(tables) == 2 and all((t["B: WER % (95 % CI)"].map(wer_of) == 0).all() for t in tables)
    assert f"{100 * bottom['wer']:.1f}" in {wer.split(" ")[0] for t in tables for wer in t["A: WER % (95 % CI)"]}
    # the geodemographic table lists the bottom cohort first, marked
    assert tables[0]["Cohort"][0].startswith("▼ ")

    at.selectbox(key="cohorts-compare").set_value("(no comparison)").run()
    assert not at.exception and all("B: WER % (95 % CI)" not in table(at, i) for i in range(len(at.table)))


def test_pages_without_any_set_say_how_to_import_one(db_url):
    for page in (str(PAGES / "regional_wer.py"), str(PAGES / "cohorts.py")):
        at = AppTest.from_file(page, default_timeout=60)
        at.run()
        assert not at.exception
        assert "fairness import" in at.info[0].value
