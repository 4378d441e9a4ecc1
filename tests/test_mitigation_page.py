"""The Mitigation page: AppTest over an empty database and over real stored experiments, and the real app in
headless Chromium (the seeded demo experiment: the map, the trade-off plot and the seeds' spread drawn)."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from streamlit.testing.v1 import AppTest

from engine import persistence
from engine.mitigation import ewc_experiment
from engine.mitigation.demo import DEMO_JSON, export_experiments, seed_demo_experiments
from tests.mitigation_data import SET_NAME, saa_set, tiny_params
from tests.test_fairness_browser import open_page, page_text, wait_for

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "mitigation.py")

# An ARW result in the schema of docs/arw.md (made-up numbers; the ARW tests run the real experiment).
ARW_RESULTS = {
    "models": [
        {
            "model": name,
            "groups": [
                {
                    "group_kind": "overall",
                    "group": "all",
                    "eer": eer,
                    "ci_low": eer - 0.02,
                    "ci_high": eer + 0.02,
                    "n_speakers": 40,
                    "n_target_trials": 80,
                    "n_nontarget_trials": 3000,
                },
                {
                    "group_kind": "sex",
                    "group": "female",
                    "eer": eer + 0.03,
                    "ci_low": eer,
                    "ci_high": eer + 0.06,
                    "n_speakers": 20,
                    "n_target_trials": 40,
                    "n_nontarget_trials": 760,
                },
                {
                    "group_kind": "sex",
                    "group": "male",
                    "eer": eer - 0.01,
                    "ci_low": eer - 0.04,
                    "ci_high": eer + 0.02,
                    "n_speakers": 20,
                    "n_target_trials": 40,
                    "n_nontarget_trials": 760,
                },
                {
                    "group_kind": "country_group",
                    "group": "oceania",
                    "eer": None,
                    "ci_low": None,
                    "ci_high": None,
                    "n_speakers": 1,
                    "n_target_trials": 2,
                    "n_nontarget_trials": 0,
                },
            ],  # one speaker: no non-target trial
            "gender_gap": {"value": 0.04, "ci_low": 0.0, "ci_high": 0.08},
            "country_spread": {"value": 0.1, "ci_low": 0.05, "ci_high": 0.15},
            "training": {"steps": 10, "seconds": 1.0, "loss_curve": [1.0, 0.9]},
        }
        for name, eer in (("baseline", 0.2), ("arw", 0.18))
    ],
    "notes": "test data",
}


def test_page_without_experiments_says_how_to_run_one(db_url):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception and not at.error
    assert "No mitigation experiment yet" in at.info[0].value
    assert "python -m engine mitigate ewc" in at.code[0].value


@pytest.fixture(scope="module")
def tiny_ewc(tmp_path_factory) -> tuple[dict, dict]:
    """(params, results) of a real tiny EWC experiment (real Whisper, real archive audio), run once per module in a
    database of its own; the tests store it in theirs."""
    with pytest.MonkeyPatch.context() as patch:
        data = tmp_path_factory.mktemp("ewc-data")
        patch.setenv("CROSSTALK_DATA_DIR", str(data))
        patch.delenv("CROSSTALK_DATABASE_URL", raising=False)
        url = f"sqlite:///{data / 'ewc.sqlite'}"
        persistence.ensure_schema(url)
        saa_set(url)
        stored = persistence.get_experiment(ewc_experiment.run(tiny_params(name="tiny *EWC* :red[x]"), url=url), url)
    return stored.params, stored.results


def _store(tiny_ewc, url: str) -> int:
    saa_set(url)
    params, results = tiny_ewc
    with persistence.session_scope(url) as s:
        return persistence.save_experiment(s, "ewc", params["name"], params, results, set_name=SET_NAME)


def test_page_shows_a_stored_ewc_experiment_and_an_arw_one(db_url, tiny_ewc):
    experiment_id = _store(tiny_ewc, db_url)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["ID"].tolist() == [experiment_id]
    regions = at.dataframe[1].value
    assert regions["Region"].tolist() == [1, 2] and regions["Targeted"].tolist() == ["◎", ""]
    assert regions["Held-out speakers"].tolist() == [1, 1]
    arms = at.dataframe[2].value
    assert arms["Arm"].tolist()[0] == "no fine-tuning" and len(arms) == 3
    changes = at.dataframe[3].value  # the paired changes of the fine-tuned arms, with CIs
    assert changes["Arm"].tolist() == [
        "plain fine-tuning (λ = 0) (1 updates, seed 0)",
        "EWC λ = 10 (1 updates, seed 0)",
    ]
    assert all(" to " in cell for cell in changes["Targeted"])
    assert at.dataframe[0].value["Name"].tolist() == ["tiny *EWC* :red[x]"]  # user text, literally
    assert any(
        f"mitigate rerun {experiment_id}" in c.value and "--regions 1" in c.value and "--seeds 0" in c.value
        for c in at.code
    )
    assert "No ARW experiment yet" in [i.value for i in at.info][-1]

    assert at.caption[0].value.startswith("Before: no fine-tuning.")
    at.selectbox(key="ewc-after").set_value(0).run()  # plain fine-tuning as the "after" arm
    at.radio(key="ewc-map-view").set_value("After").run()
    assert not at.exception
    assert at.caption[0].value.startswith("After: plain fine-tuning (λ = 0)")
    at.radio(key="ewc-map-view").set_value("Change").run()
    assert not at.exception and "blue: lower WER after fine-tuning" in at.caption[0].value

    persistence.transact(persistence.save_experiment, "arw", "arw test", {"steps": 10}, ARW_RESULTS)
    at.run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["Kind"].tolist() == ["ARW", "EWC"]
    gaps = at.dataframe[-1].value
    assert gaps["Measure"].tolist() == ["Gender gap (EER points)", "Spread across countries"] * 2
    persistence.transact(persistence.save_experiment, "arw", "arw seed 1", {"steps": 10, "seed": 1}, ARW_RESULTS)
    at.run()
    seeds = at.dataframe[-1].value  # every ARW experiment's models side by side
    assert seeds["Experiment"].nunique() == 2 and seeds["Model"].tolist() == ["baseline", "arw"] * 2


@pytest.mark.browser
def test_mitigation_page_draws_the_map_and_the_plots(app_server, browser):
    browser.get(app_server["url"])  # the app seeds the shipped demo experiment on its first run
    open_page(browser, "Mitigation")
    wait_for(browser, lambda b: "Trade-off across λ" in page_text(b), "the EWC experiment never appeared")
    wait_for(
        browser,
        lambda b: b.execute_script(
            "const maps = document.querySelectorAll('[data-testid=\"stDeckGlJsonChart\"]');"
            "return maps.length === 1 && [...maps[0].querySelectorAll('canvas')].some(c => c.width > 100);"
        ),
        "the map was never drawn (or more than one)",
        60,
    )
    charts = '[data-testid="stVegaLiteChart"] svg.marks'
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, f"{charts} .mark-symbol path")) >= 4,
        "the trade-off plot and the seeds' spread were never drawn",
        60,
    )
    wait_for(browser, lambda b: "The seeds' spread" in page_text(b), "the seeds' spread was never shown")
    # every legend sits under its plot area, not over it
    assert browser.execute_script(
        f"return [...document.querySelectorAll('{charts}')].every(svg => {{"
        "const legend = svg.querySelector('.role-legend'); const frame = svg.querySelector('.role-frame path');"
        "return !legend || legend.getBoundingClientRect().top >= frame.getBoundingClientRect().bottom - 1; });"
    )
    text = page_text(browser)
    assert "mitigate rerun" in text and "Traceback" not in text


def test_shipped_experiments_are_seeded_once_and_render(db_url, tmp_path, tiny_ewc):
    experiment_id = _store(tiny_ewc, db_url)
    asset = tmp_path / "mitigation_demo.json"
    export_experiments([experiment_id], asset, url=db_url)
    assert seed_demo_experiments(db_url, asset) == 0  # already there (same kind and name)
    persistence.transact(persistence.delete_experiment, experiment_id)
    assert seed_demo_experiments(db_url, asset) == 1
    assert seed_demo_experiments(db_url, asset) == 0
    [seeded] = persistence.list_experiments(url=db_url)
    assert seeded.params == tiny_ewc[0] and seeded.set_name == "saa-mini"


def test_the_shipped_asset_renders_on_a_fresh_database(db_url):
    if not DEMO_JSON.exists():
        pytest.fail(f"{DEMO_JSON} is missing: export the shipped experiments (docs/mitigation.md)")
    assert seed_demo_experiments(db_url) >= 1
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("EWC") for s in at.subheader)
    # The shipped EWC experiments ran on a set the demo database lacks: the page still names it, and says so.
    listed = at.dataframe[0].value
    ewc_sets = listed.loc[listed["Kind"] == "EWC", "Evaluation set"]
    assert len(ewc_sets) and all(name.endswith("(not in this database)") and len(name) > 30 for name in ewc_sets)
    assert any("every region of 'Speech Accent Archive" in c.value for c in at.caption)
