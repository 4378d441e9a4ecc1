"""The real dashboard on a free localhost port with a temp data dir, headless Chromium, and the measures the
page benchmarks share (bench/page_load.py, bench/load.py): when a page is fully rendered, server CPU time."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The pages app.py routes, as their URL paths (st.Page derives them from the file names).
PAGE_PATHS = {
    "Transcribe": "",
    "Library": "library",
    "Regional WER": "regional_wer",
    "Cohorts": "cohorts",
    "Mitigation": "mitigation",
    "Model": "model",
    "Docs": "docs",
}

# True once the script run is over (the app's script state, nothing stale from the previous run, no spinner or
# skeleton) and the charts have drawn (Vega-Lite svg, deck.gl canvas). Evaluated in the page.
RENDERED_JS = """
const q = s => document.querySelectorAll(s);
const app = document.querySelector('[data-testid="stApp"]');
if (!app || app.dataset.testScriptState !== 'notRunning') return false;
if (!document.querySelector('[data-testid="stMain"] [data-testid="stElementContainer"]')) return false;
if (q('[data-stale="true"], [data-testid="stSkeleton"], [data-testid="stSpinner"]').length) return false;
for (const chart of q('[data-testid="stVegaLiteChart"]')) if (!chart.querySelector('svg.marks, canvas')) return false;
for (const deck of q('[data-testid="stDeckGlJsonChart"]')) if (!deck.querySelector('canvas')) return false;
return true;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class App:
    url: str
    pid: int
    data_dir: Path
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (its threads included)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def page_url(self, page: str, query: str = "") -> str:
        return f"{self.url}/{PAGE_PATHS[page]}" + (f"?{query}" if query else "")


@contextmanager
def running_app(worker_idle_s: float = 120, timeout_s: float = 180):
    """scripts/serve.py as scripts/start.sh runs it, on its own temp data dir; stopped (with the job
    worker it started) on exit."""
    data = Path(tempfile.mkdtemp(prefix="crosstalk-bench-"))
    port = free_port()
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data), "CROSSTALK_WORKER_IDLE_S": str(worker_idle_s)}
    env.pop("CROSSTALK_DATABASE_URL", None)
    log = data / "streamlit.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "scripts/serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not become healthy in time")
                time.sleep(0.3)
        yield App(url, proc.pid, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        from engine.jobs import stop_worker

        stop_worker(data)
        shutil.rmtree(data, ignore_errors=True)


def new_browser(width: int = 1600, height: int = 1200):
    """A fresh headless Debian Chromium (its own profile: no cache, no cookies)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={tempfile.mkdtemp(prefix='crosstalk-chrome-')}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


BUSY_POLL_S = 0.2  # a poll that takes longer than this waited for the page's main thread: it was still working


def wait_rendered(driver, started: float, timeout_s: float = 60, poll_s: float = 0.05, quiet_s: float = 0.3) -> float:
    """Seconds from `started` (a time.perf_counter()) until the page is fully rendered: RENDERED_JS true on
    every poll for `quiet_s`, each poll answered at once; the time reported is the first of them. The quiet
    window matters for maps: deck.gl creates its canvas first and then blocks the page for seconds while it
    compiles its shaders and draws (software WebGL here), and a poll cannot run until that is over."""
    first_true = None
    while time.perf_counter() - started < timeout_s:
        asked = time.perf_counter()
        rendered = driver.execute_script(RENDERED_JS)
        answered = time.perf_counter()
        if not rendered or answered - asked > BUSY_POLL_S:
            first_true = None
        elif first_true is None:
            first_true = asked
        elif answered - first_true >= quiet_s:
            return first_true - started
        time.sleep(poll_s)
    raise TimeoutError(f"{driver.current_url} did not finish rendering within {timeout_s:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
