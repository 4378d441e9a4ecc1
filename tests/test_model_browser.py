"""The Model page in real headless Chromium against the running app: stored runs of SST (the shipped
checkpoint and an older one) and the cascade draw grouped ORC-WER bars whose hover says errors / words.
Which runs are drawn and how the older one is marked is checked in tests/test_page_model.py."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from db import init_db
from engine import config, persistence
from engine.sst.package import package_id as checkpoint_id
from tests.test_fairness_browser import open_page, page_text, wait_for

pytestmark = pytest.mark.browser


def _results(errors: int, words: int) -> dict:
    scores = {"meetings": 1, "orc_wer": {"errors": errors, "words": words, "wer": errors / words}}
    return {"conditions": {"0L": scores, "OV40": scores}, "overall": {**scores, "meetings": 2}}


def test_model_page_draws_sst_beside_the_cascade_in_a_real_browser(app_server, browser):
    url = f"sqlite:///{app_server['data_dir'] / 'crosstalk.sqlite'}"  # the app's own database
    init_db(url)
    shipped = {"set_dir": "browser", "checkpoint": {"sha256": checkpoint_id(config.models_dir() / "sst.pt"), "step": 1}}
    with persistence.session_scope(url) as s:
        persistence.save_evaluation_run(s, "sst", "browser", shipped, _results(937, 1000))
        persistence.save_evaluation_run(s, "cascade", "browser", {"set_dir": "browser"}, _results(898, 1000))
        persistence.save_evaluation_run(
            s, "sst", "browser", {**shipped, "checkpoint": {"sha256": "0" * 12, "step": 0}}, _results(999, 1000)
        )

    browser.get(app_server["url"])
    open_page(browser, "Model")
    wait_for(browser, lambda b: "How well: SST beside the cascade" in page_text(b), "no evaluation section")
    bar_css = '[data-testid="stVegaLiteChart"] svg.marks g.mark-rect path'  # Vega draws each bar as an SVG path
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, bar_css)) >= 6,  # 2 backends x 3 parts
        "the ORC-WER bars were never drawn",
        60,
    )
    assert "Traceback" not in page_text(browser)  # (the table is a canvas: tests/test_page_model.py reads it)
    bar = browser.find_elements(By.CSS_SELECTOR, bar_css)[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", bar)
    ActionChains(browser).move_to_element(bar).perform()
    wait_for(
        browser,
        lambda b: "errors / words" in " ".join(e.text for e in b.find_elements(By.CSS_SELECTOR, "#vg-tooltip-element")),
        "no hover on a bar",
        20,
    )
