"""The fairness pages in real headless Chromium against the running app (the seeded accent-archive demo):
the deck.gl map with its regions and the cohort comparison side by side."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser


def page_text(browser) -> str:
    return browser.find_element(By.TAG_NAME, "body").text


def wait_for(browser, condition, message: str, timeout_s: float = 180) -> None:
    WebDriverWait(browser, timeout_s, poll_frequency=0.5).until(condition, message)


def open_page(browser, title: str) -> None:
    xpath = f"//a[@data-testid='stSidebarNavLink'][contains(., '{title}')]"
    wait_for(browser, lambda b: b.find_elements(By.XPATH, xpath), f"no '{title}' in the navigation", 120)
    browser.find_element(By.XPATH, xpath).click()


def test_regional_map_and_cohort_comparison_in_a_real_browser(app_server, browser):
    browser.get(app_server["url"])  # the landing page: the app seeds the demo set on its first run
    open_page(browser, "Regional WER")
    wait_for(browser, lambda b: "Regions ranked by WER" in page_text(b), "the ranked regions never appeared")
    assert "Speech Accent Archive" in page_text(browser)  # the demo set and its attribution
    # deck.gl draws into a WebGL canvas inside the pydeck element
    wait_for(browser, lambda b: b.execute_script(
        "const c = document.querySelector('[data-testid=\"stDeckGlJsonChart\"] canvas');"
        "return c !== null && c.width > 100 && c.height > 100;"), "the map canvas was never drawn", 60)
    assert "Worst utterances of a region" in page_text(browser)
    assert "Traceback" not in page_text(browser)

    open_page(browser, "Cohorts")
    wait_for(browser, lambda b: page_text(b).count("Bottom-cohort WER") == 2,
             "the two cohort methods never appeared side by side")
    text = page_text(browser)
    assert "Geodemographic partition" in text and "Automatic (k-means on speaker embeddings)" in text
    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .barlayer path")) >= 4,
             "the cohort bar charts were never drawn", 60)
    assert "Traceback" not in page_text(browser)
