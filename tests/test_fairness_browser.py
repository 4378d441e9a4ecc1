"""The fairness pages in real headless Chromium against the running app (the seeded accent-archive demo):
the deck.gl map with its regions and the cohort comparison side by side."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from engine.fairness import basemap

pytestmark = pytest.mark.browser


def page_text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def wait_for(browser, condition, message: str, timeout_s: float = 180) -> None:
    WebDriverWait(browser, timeout_s, poll_frequency=0.5).until(condition, message)


def open_page(browser, title: str) -> None:
    xpath = f"//*[@data-testid='stSidebar']//a[contains(., '{title}')]"  # app.py draws the page links
    wait_for(browser, lambda b: b.find_elements(By.XPATH, xpath), f"no '{title}' in the navigation", 120)
    browser.find_element(By.XPATH, xpath).click()


def land_share(browser) -> float:
    """Share of the map's on-screen pixels in the basemap's land colour: the image under the regions drew."""
    shot = browser.find_element(By.CSS_SELECTOR, '[data-testid="stDeckGlJsonChart"]').screenshot_as_png
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), int)
    return float((np.abs(pixels - np.array(basemap.LAND_RGB)).max(axis=2) <= 3).mean())


def test_regional_map_and_cohort_comparison_in_a_real_browser(app_server, browser):
    browser.get(app_server["url"])  # the landing page: the app seeds the demo set on its first run
    open_page(browser, "Regional WER")
    wait_for(browser, lambda b: "Regions ranked by WER" in page_text(b), "the ranked regions never appeared")
    assert "Speech Accent Archive" in page_text(browser)  # the demo set and its attribution
    # deck.gl draws into a WebGL canvas inside the pydeck element
    wait_for(
        browser,
        lambda b: b.execute_script(
            "const c = document.querySelector('[data-testid=\"stDeckGlJsonChart\"] canvas');"
            "return c !== null && c.width > 100 && c.height > 100;"
        ),
        "the map canvas was never drawn",
        60,
    )
    wait_for(browser, lambda b: land_share(b) > 0.02, "the basemap's land never showed under the regions", 60)
    assert "Worst utterances of a region" in page_text(browser)
    assert "Traceback" not in page_text(browser)

    open_page(browser, "Cohorts")
    wait_for(
        browser,
        lambda b: page_text(b).count("Bottom-cohort WER") == 2,
        "the two cohort methods never appeared side by side",
    )
    text = page_text(browser)
    assert "Geodemographic partition" in text and "Automatic (k-means on speaker embeddings)" in text
    # Vega-Lite draws into SVG; the bar layer is named in pages/cohorts.py (the CI whiskers are rects too)
    bars = '[data-testid="stVegaLiteChart"] svg.marks g.mark-rect.cohort_bars_marks path'
    wait_for(
        browser,
        lambda b: len(b.find_elements(By.CSS_SELECTOR, bars)) >= 4,
        "the cohort bar charts were never drawn",
        60,
    )
    assert "Traceback" not in page_text(browser)


MARKDOWN_NAME = "**bold** [link](http://example.com) :red[red] $x^2$ <b>tag</b>"


def test_user_text_shows_literally_in_both_pages(app_server, browser):
    """A set whose name, attribution and attribute values are Markdown/HTML: every page shows them as typed
    (no bold, no link, no colour, no maths, no HTML element) in text, tables and chart labels."""
    from selenium.webdriver.common.keys import Keys

    from engine.fairness.importing import import_frame
    from engine.fairness.synthetic import Plan, make_set, with_embeddings

    url = f"sqlite:///{app_server['data_dir'] / 'crosstalk.sqlite'}"
    synthetic = make_set(Plan(n_utterances=600, utterances_per_speaker=5, seed=2))
    frame = with_embeddings(synthetic)
    frame["sex"] = frame["sex"].map({"female": "**female**", "male": "[male](http://example.com)"})
    browser.get(app_server["url"])  # the app has migrated and seeded its database by now
    wait_for(browser, lambda b: b.find_elements(By.XPATH, "//*[@data-testid='stSidebar']//a"), "no app", 180)
    import_frame(frame, MARKDOWN_NAME, attribution="*made up* for https://example.com", url=url)
    for page, key in (("Regional WER", "Regions ranked by WER"), ("Cohorts", "every cohort")):
        open_page(browser, page)
        wait_for(browser, lambda b: key in page_text(b), f"{page} never rendered")
        box = browser.find_element(By.XPATH, "//div[@data-testid='stSelectbox'][.//label[contains(., 'System')]]")
        box.click()
        typed = browser.switch_to.active_element
        typed.send_keys("bold")
        typed.send_keys(Keys.ENTER)
        wait_for(
            browser,
            lambda b: "*made up* for https" in page_text(b).replace("\u2060", ""),
            f"{page}: the set's attribution never showed as typed",
        )
        wait_for(
            browser,
            lambda b: key in page_text(b) and not b.find_elements(By.CSS_SELECTOR, "[data-stale='true']"),
            f"{page} never rendered the Markdown-named set",
        )
        text = page_text(browser).replace("\u2060", "")
        assert MARKDOWN_NAME in text, page
        main = browser.find_element(By.CSS_SELECTOR, "[data-testid='stMain']")
        assert not main.find_elements(By.XPATH, ".//a[contains(@href, 'example.com')]"), page
        assert not main.find_elements(By.XPATH, ".//strong[contains(., 'bold') or contains(., 'female')]"), page
        assert not main.find_elements(By.CSS_SELECTOR, ".katex, b"), page
        assert "Traceback" not in text
    assert "**female**" in text or "[male](http://example.com)" in text  # the attribute values, as typed
