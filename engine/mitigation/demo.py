"""Shipped mitigation experiments, so a first-time visitor of the Mitigation page sees real results.

engine/assets/mitigation_demo.json is written by scripts/export_mitigation_demo.py from experiments run with
the commands in docs/mitigation.md (and docs/arw.md); the dashboard stores them in its database on start, once.
"""

from __future__ import annotations

from pathlib import Path

from engine import persistence
from engine.shipped_rows import export_rows, seed_rows

DEMO_JSON = Path(__file__).resolve().parent.parent / "assets" / "mitigation_demo.json"
SECTION = "experiments"
FIELDS = ("kind", "name", "set_name", "params", "results")
IDENTITY = ("kind", "name")


def seed_demo_experiments(url: str | None = None, path: Path = DEMO_JSON) -> int:
    """Store each shipped experiment that the database lacks (same kind and name), all in one unit of work;
    returns how many were stored."""
    with persistence.session_scope(url) as s:
        return seed_rows(
            path,
            SECTION,
            IDENTITY,
            lambda: persistence.list_experiments(url=url),
            lambda e: persistence.save_experiment(
                s, e["kind"], e["name"], e["params"], e["results"], set_name=e["set_name"]
            ),
        )


def export_experiments(ids: list[int], path: Path = DEMO_JSON, url: str | None = None) -> None:
    """Write stored experiments as the shipped asset (replacing what was there)."""
    export_rows(path, SECTION, [persistence.get_experiment(i, url) for i in ids], FIELDS)
