"""Shipped mitigation experiments, so a first-time visitor of the Mitigation page sees real results.

engine/assets/mitigation_demo.json is written by scripts/export_mitigation_demo.py from experiments run with
the commands in docs/mitigation.md (and docs/arw.md); the dashboard stores them in its database on start, once.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine import persistence

DEMO_JSON = Path(__file__).resolve().parent.parent / "assets" / "mitigation_demo.json"


def seed_demo_experiments(url: str | None = None, path: Path = DEMO_JSON) -> int:
    """Store each shipped experiment that the database lacks (same kind and name); returns how many were stored."""
    if not path.exists():
        return 0
    stored = {(e.kind, e.name) for e in persistence.list_experiments(url=url)}
    added = 0
    for e in json.loads(path.read_text())["experiments"]:
        if (e["kind"], e["name"]) not in stored:
            persistence.save_experiment(e["kind"], e["name"], e["params"], e["results"], set_name=e["set_name"], url=url)
            added += 1
    return added


def export_experiments(ids: list[int], path: Path = DEMO_JSON, url: str | None = None) -> None:
    """Write stored experiments as the shipped asset (replacing what was there)."""
    experiments = [persistence.get_experiment(i, url) for i in ids]
    payload = {"experiments": [{"kind": e.kind, "name": e.name, "set_name": e.set_name, "params": e.params,
                                "results": e.results} for e in experiments]}
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
