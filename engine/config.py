"""Run-time settings, all from the environment with embedded defaults, so a fresh checkout just works.

CROSSTALK_DATA_DIR      where the SQLite file and audio store live (default: ./data beside the checkout)
CROSSTALK_DATABASE_URL  any SQLAlchemy URL (default: sqlite file under the data dir)
CROSSTALK_MAX_UPLOAD_MB upload size limit (default 200, same as .streamlit/config.toml)
CROSSTALK_SHARED_DATA   the read-only corpora (default: ../shared/data beside the checkout)
CROSSTALK_JOB_RUNNER    local (default: one worker process per data dir) or ray (docs/team.md)
CROSSTALK_RAY_ADDRESS   the Ray cluster for the ray runner (auto, host:port; default: a private local Ray)
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    path = Path(os.environ.get("CROSSTALK_DATA_DIR", REPO_ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    return os.environ.get("CROSSTALK_DATABASE_URL") or f"sqlite:///{data_dir() / 'crosstalk.sqlite'}"


def max_upload_bytes() -> int:
    return int(float(os.environ.get("CROSSTALK_MAX_UPLOAD_MB", "200")) * 1024 * 1024)


def shared_data_dir() -> Path:
    return Path(os.environ.get("CROSSTALK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def models_dir() -> Path:
    return REPO_ROOT / "models"


JOB_RUNNERS = ("local", "ray")


def job_runner() -> str:
    name = os.environ.get("CROSSTALK_JOB_RUNNER", "local").strip().lower() or "local"
    if name not in JOB_RUNNERS:
        from engine.errors import UserError

        raise UserError(f"CROSSTALK_JOB_RUNNER is {name!r}; it must be one of: {', '.join(JOB_RUNNERS)}.")
    return name
