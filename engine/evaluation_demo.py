"""Shipped evaluation runs, so a first-time visitor of the Model page sees SST beside the cascade.

engine/assets/evaluation_demo.json is written by scripts/export_evaluation_demo.py from runs stored by
`python -m engine evaluate` (docs/evaluation.md); the dashboard stores each run its database lacks on
start. Without the file nothing is seeded and the page says how to make a run.
"""

from __future__ import annotations

from pathlib import Path

from engine import persistence
from engine.shipped_rows import export_rows, seed_rows

DEMO_JSON = Path(__file__).resolve().parent / "assets" / "evaluation_demo.json"
SECTION = "runs"
FIELDS = ("backend", "set_name", "params", "results")
IDENTITY = ("backend", "set_name", "params")  # params carry the SST checkpoint id: a rerun on a new one is new


def seed_demo_runs(url: str | None = None, path: Path | None = None) -> int:
    """Store each shipped run the database lacks (same backend, set and params), all in one unit of work;
    returns how many were stored.

    `path` defaults to DEMO_JSON, looked up at call time (tests point it elsewhere)."""
    with persistence.session_scope(url) as s:
        return seed_rows(
            path or DEMO_JSON,
            SECTION,
            IDENTITY,
            lambda: persistence.list_evaluation_runs(url=url),
            lambda r: persistence.save_evaluation_run(s, r["backend"], r["set_name"], r["params"], r["results"]),
        )


def export_runs(ids: list[int], path: Path | None = None, url: str | None = None) -> None:
    """Write stored evaluation runs as the shipped asset (replacing what was there)."""
    export_rows(path or DEMO_JSON, SECTION, [persistence.get_evaluation_run(i, url) for i in ids], FIELDS)
