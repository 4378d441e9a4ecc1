"""Shared fixtures: a real temporary SQLite database, PostgreSQL when configured, a running app, a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine import config

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh data directory (SQLite file + audio store) used by everything in the test."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("CROSSTALK_DATA_DIR", str(path))
    monkeypatch.delenv("CROSSTALK_DATABASE_URL", raising=False)
    monkeypatch.setenv("CROSSTALK_WORKER_PRESTART", "0")  # a page visit starts no worker (a submit still does)
    return path


@pytest.fixture
def db_url(data_dir) -> str:
    """A migrated, empty SQLite database in a temp file."""
    from db import init_db

    url = config.database_url()
    init_db(url)
    return url


@pytest.fixture
def postgres_url(monkeypatch) -> str:
    """A migrated PostgreSQL database (CI starts the server and sets CROSSTALK_TEST_POSTGRES_URL)."""
    url = os.environ.get("CROSSTALK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("CROSSTALK_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    from sqlalchemy import text

    from db import get_engine, init_db
    from db.models import Base

    engine = get_engine(url)
    with engine.begin() as conn:  # start from an empty schema every time
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    init_db(url)
    monkeypatch.setenv("CROSSTALK_DATABASE_URL", url)
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real dashboard (scripts/serve.py, as scripts/start.sh runs it) on a free localhost port with its own
    data directory."""
    data = tmp_path_factory.mktemp("app-data")
    port = free_port()
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data), "CROSSTALK_WORKER_IDLE_S": "60"}
    env.pop("CROSSTALK_DATABASE_URL", None)
    log_path = data / "streamlit.log"  # a file, not a pipe nobody reads (a full pipe would stall the server)
    proc = subprocess.Popen(
        [
            sys.executable,
            "scripts/serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log_path.read_text(errors='replace')}")
    else:
        proc.kill()
        raise RuntimeError("streamlit did not become healthy within 120 s")
    yield {"url": url, "data_dir": data, "log": log_path}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    from engine.jobs import stop_worker

    stop_worker(data)  # the app's detached job worker, if it started one


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by selenium through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium and chromedriver are required (bash scripts/install_system.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.add_argument(
        f"--user-data-dir={Path(os.environ.get('TMPDIR', '/tmp')) / f'chrome-{os.getpid()}-{time.time_ns()}'}"
    )
    download_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"downloads-{time.time_ns()}"
    download_dir.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    # headless Chromium ignores the download preference unless told through the DevTools protocol
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    driver.download_dir = download_dir
    yield driver
    driver.quit()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request, data_dir) -> str:
    """A migrated, empty database: SQLite always, PostgreSQL too when CROSSTALK_TEST_POSTGRES_URL is set.

    The audio store lives in the test's data directory either way.
    """
    return request.getfixturevalue("db_url" if request.param == "sqlite" else "postgres_url")


AMI_AUDIO = config.shared_data_dir() / "ami_excerpts" / "audio"


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """About 6 s of two synthesised voices taking turns (espeak-ng), as a 16 kHz mono WAV."""
    import numpy as np
    import soundfile as sf

    folder = tmp_path_factory.mktemp("speech")
    parts = []
    for i, (voice, text) in enumerate(
        [
            ("en-us", "Good morning, shall we look at the budget first?"),
            ("en-gb-scotland", "Yes, the numbers for the spring are ready."),
        ]
    ):
        raw = folder / f"part{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        data, rate = sf.read(raw, dtype="float32")
        assert rate == 22050
        parts += [data, np.zeros(rate // 2, dtype="float32")]
    mixed = np.concatenate(parts)
    import torch
    import torchaudio.functional as AF

    out = folder / "two_voices.wav"
    sf.write(out, AF.resample(torch.from_numpy(mixed), 22050, 16000).numpy(), 16000)
    return out
