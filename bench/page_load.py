"""nice -n 10 .venv/bin/python bench/page_load.py [--repeats 5] [--long-rounds 10] [--pages Transcribe Docs ...]

Every page of the real dashboard (`streamlit run app.py` on a free localhost port, a temp data dir, the
shipped demo data) in headless Debian Chromium at 1600×1200:

- first visit: a fresh browser (own profile, empty cache) opens the page's URL; seconds until it is fully
  rendered (the script run is over, nothing stale or pending, Vega-Lite/deck.gl charts drawn; see
  bench/app_harness.py) and the server process's CPU-seconds (user + system, /proc) over that time;
- rerun: the same tab presses R (Streamlit's rerun key); seconds until rendered again, and server CPU;
- long session: one tab walks the sidebar's page links for --long-rounds rounds; each page's time in the
  first and the last round, and the server's resident memory before and after (growth would show here).

The process is warmed first (one visit per page: imports, migrations, demo seeding, the job worker loading
its models) and that cold visit is reported on its own line. p50/p95 are over --repeats.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from app_harness import PAGE_PATHS, RENDERED_JS, new_browser, percentile, running_app, wait_rendered

# The server's messages, clocked in the page: wrapped before the app's own code opens its WebSocket. A fast
# rerun (tens of ms) sends its "running" and "finished" states in one batch that React renders once, so the
# app's script-state attribute never shows it running; the messages show that the run happened and when its
# last one arrived.
MESSAGE_CLOCK_JS = """
window.__messages = 0;
window.__lastMessage = 0;
const Original = window.WebSocket;
window.WebSocket = class extends Original {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => { window.__messages += 1; window.__lastMessage = performance.now(); });
  }
};
"""
POLL_JS = (
    "const rendered = (() => {"
    + RENDERED_JS
    + "})();"
    + "return [rendered, window.__messages, window.__lastMessage, performance.now()];"
)
SETTLE_MS = 250  # no message for this long after the run's last one: the run is over


def clocked_browser():
    """A fresh headless Chromium whose pages clock the server's messages (MESSAGE_CLOCK_JS)."""
    driver = new_browser()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MESSAGE_CLOCK_JS})
    return driver


def timed_run(driver, action, timeout_s: float = 60) -> float:
    """Seconds (in-page clock) from `action()` until the script run it causes has ended and rendered: the first
    poll that finds the page rendered after the run's last message, once no message has followed for SETTLE_MS."""
    _, messages_before, _, started = driver.execute_script(POLL_JS)
    action()
    rendered_at, seen_last = None, None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rendered, messages, last, now = driver.execute_script(POLL_JS)
        if last != seen_last:  # a new message: whatever was rendered before it is not the end
            rendered_at, seen_last = None, last
        if rendered and messages > messages_before:
            rendered_at = rendered_at or now
            if now - last >= SETTLE_MS:
                return (rendered_at - started) / 1000
        else:
            rendered_at = None
        time.sleep(0.03)
    raise TimeoutError(f"{driver.current_url}: the run did not end within {timeout_s:.0f} s")


def press_rerun(driver):
    from selenium.webdriver.common.by import By

    return lambda: driver.find_element(By.TAG_NAME, "body").send_keys("r")


def click_page_link(driver, title: str):
    js = (
        "const link = [...document.querySelectorAll('[data-testid=\"stSidebar\"] a')]"
        ".find(a => a.innerText.trim().endsWith(arguments[0])); link.click();"
    )
    return lambda: driver.execute_script(js, title)


def first_visit(app, page: str, timeout_s: float = 120) -> tuple[float, float, float, float]:
    """(load s, load server CPU-s, rerun s, rerun server CPU-s) in a fresh browser."""
    driver = clocked_browser()
    try:
        cpu = app.cpu_seconds()
        started = time.perf_counter()
        driver.get(app.page_url(page))
        load = wait_rendered(driver, started, timeout_s)
        load_cpu = app.cpu_seconds() - cpu
        cpu = app.cpu_seconds()
        rerun = timed_run(driver, press_rerun(driver), timeout_s)
        return load, load_cpu, rerun, app.cpu_seconds() - cpu
    finally:
        driver.quit()


def long_session(app, pages: list[str], rounds: int) -> tuple[dict[str, list[float]], float, float]:
    driver = clocked_browser()
    try:
        started = time.perf_counter()
        driver.get(app.page_url(pages[0]))
        wait_rendered(driver, started, timeout_s=120)
        rss_before = app.rss_mb()
        times: dict[str, list[float]] = {page: [] for page in pages}
        for _ in range(rounds):
            for page in pages[1:] + pages[:1]:
                times[page].append(timed_run(driver, click_page_link(driver, page), timeout_s=120))
        return times, rss_before, app.rss_mb()
    finally:
        driver.quit()


def wait_for_worker(app, timeout_s: float = 300) -> None:
    """The Transcribe page starts the job worker, which loads its models: measure once it is idle."""
    log = app.data_dir / "worker.log"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and " ready" in log.read_text(errors="replace"):
            return
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--long-rounds", type=int, default=10)
    parser.add_argument("--pages", nargs="+", default=list(PAGE_PATHS), choices=list(PAGE_PATHS))
    args = parser.parse_args()
    if args.repeats < 1 or args.long_rounds < 1:
        parser.error("--repeats and --long-rounds must be at least 1.")

    print(
        f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True
    )
    with running_app() as app:
        cold = {page: first_visit(app, page, timeout_s=600)[0] for page in args.pages}
        if "Transcribe" in args.pages:  # only that page starts the worker
            wait_for_worker(app)
        results = {page: [first_visit(app, page) for _ in range(args.repeats)] for page in args.pages}
        long_times, rss_before, rss_after = long_session(app, args.pages, args.long_rounds)

    print(
        "\ncold process (first visit after the server started): "
        + ", ".join(f"{page} {seconds:.2f} s" for page, seconds in cold.items())
    )
    header = (
        f"{'page':<13} | {'first visit p50 / p95 s':>23} | {'server CPU-s p50 / p95':>22} | "
        f"{'rerun p50 / p95 s':>17} | {'rerun CPU-s p50':>15} | {'long session round 1 → last s':>29}"
    )
    print(header)
    print("-" * len(header))
    for page, rows in results.items():
        load, load_cpu, rerun, rerun_cpu = (list(column) for column in zip(*rows))
        walk = long_times[page]
        print(
            f"{page:<13} | {percentile(load, 50):>10.2f} / {percentile(load, 95):<10.2f} | "
            f"{percentile(load_cpu, 50):>9.2f} / {percentile(load_cpu, 95):<10.2f} | "
            f"{percentile(rerun, 50):>7.2f} / {percentile(rerun, 95):<7.2f} | {percentile(rerun_cpu, 50):>15.2f} | "
            f"{walk[0]:>13.2f} → {walk[-1]:<13.2f}"
        )
    print(
        f"\nlong session: {args.long_rounds} rounds over {len(args.pages)} pages in one tab; server RSS "
        f"{rss_before:.0f} MB → {rss_after:.0f} MB"
    )
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
