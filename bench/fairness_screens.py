"""nice -n 10 .venv/bin/python bench/fairness_screens.py [--out data/fairness_screens] [--widths 1280 1600 1920]

The Regional WER and Cohorts pages of the real dashboard (the shipped demo: the Whisper set compared with the
pocketsphinx set) in headless Chromium at each width, full-page screenshots saved as PNG for a person to check
that no column header, value or axis label is cut off and no label prints over another. Also prints, per page
and width, the seconds from clicking the page's sidebar link in a fresh browser session (opened on the landing
page) to fully rendered, and the server's CPU-seconds over that time (the process is warmed by one visit per
page first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app_harness import new_browser, running_app, wait_rendered

PAGES = ("Regional WER", "Cohorts")


def open_page(driver, app, page: str, timeout_s: float = 60) -> tuple[float, float]:
    """A new session on the landing page, then the page's sidebar link: seconds from the click to rendered,
    and the server's CPU-seconds over that time."""
    from selenium.webdriver.common.by import By

    started = time.perf_counter()
    driver.get(app.url)
    wait_rendered(driver, started, timeout_s=max(timeout_s, 300))
    link = driver.find_element(By.XPATH, f"//*[@data-testid='stSidebar']//a[contains(., '{page}')]")  # app.py's links
    cpu, started = app.cpu_seconds(), time.perf_counter()
    link.click()
    time.sleep(0.1)  # the click starts a new script run; the render check must not see the old page
    seconds = wait_rendered(driver, started, timeout_s=timeout_s)
    return seconds, app.cpu_seconds() - cpu


def full_height(driver) -> int:
    return int(
        driver.execute_script(
            "const m = document.querySelector('[data-testid=\"stMain\"]');"
            "return Math.max(document.body.scrollHeight, m ? m.scrollHeight : 0);"
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/fairness_screens"))
    parser.add_argument("--widths", type=int, nargs="+", default=[1280, 1600, 1920])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_app() as app:
        warm = new_browser()
        for page in PAGES:  # imports, migrations, demo seeding and analyses happen here, once
            open_page(warm, app, page, timeout_s=300)
        warm.quit()
        print("| page | width px | first visit s | server CPU s | screenshot |\n|---|---:|---:|---:|---|")
        for width in args.widths:
            for page in PAGES:
                driver = new_browser(width, 1200)
                seconds, cpu = open_page(driver, app, page)
                driver.set_window_size(width, min(full_height(driver) + 200, 8000))
                time.sleep(1.0)  # the grid and charts re-layout to the taller window
                shot = args.out / f"{page.lower().replace(' ', '_')}_{width}.png"
                driver.save_screenshot(str(shot))
                driver.quit()
                print(f"| {page} | {width} | {seconds:.2f} | {cpu:.2f} | {shot} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
