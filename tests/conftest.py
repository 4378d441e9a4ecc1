"""Shared fixtures: a real temporary SQLite database, PostgreSQL when configured, a running app, a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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


@pytest.fixture(scope="session")
def app_server():
    """The real dashboard (scripts/serve.py, as scripts/start.sh runs it) on a free localhost port with its own
    data directory (bench/app_harness.py, which the load and page-time benchmarks share)."""
    from app_harness import running_app

    with running_app(worker_idle_s=60, timeout_s=120) as app:
        yield {"url": app.url, "data_dir": app.data_dir, "log": app.log}


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by selenium through chromedriver; downloads land in
    `driver.download_dir`."""
    from app_harness import new_browser

    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which("chromedriver"):
        pytest.fail("chromium and chromedriver are required (bash scripts/install_system.sh installs them)")
    driver = new_browser(1400, 1000)
    download_dir = Path(tempfile.mkdtemp(prefix="crosstalk-downloads-"))
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
