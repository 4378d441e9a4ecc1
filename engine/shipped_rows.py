"""Stored database rows shipped with the app as a JSON asset, so a fresh database shows real results.

A script exports chosen rows (`export_rows`); the app seeds each shipped row its database lacks on start
(`seed_rows`). A row counts as present when a stored row has the same identity fields (mitigation
experiments: kind and name; evaluation runs: backend, set and params), compared as canonical JSON.
Used by engine/mitigation/demo.py and engine/evaluation_demo.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _identity(row: dict, fields: tuple[str, ...]) -> str:
    return json.dumps([row[f] for f in fields], sort_keys=True)


def export_rows(path: Path, section: str, records: Iterable[Any], fields: tuple[str, ...]) -> None:
    """Write `fields` of each stored record (a persistence dataclass) as {section: [...]}, replacing the file."""
    payload = {section: [{f: getattr(r, f) for f in fields} for r in records]}
    Path(path).write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")


def seed_rows(
    path: Path,
    section: str,
    identity: tuple[str, ...],
    list_stored: Callable[[], Iterable[Any]],
    save: Callable[[dict], Any],
) -> int:
    """`save` each shipped row whose identity no stored record has; returns how many were saved (0 without
    the file: the app works without its assets)."""
    path = Path(path)
    if not path.exists():
        return 0
    stored = {_identity({f: getattr(r, f) for f in identity}, identity) for r in list_stored()}
    added = 0
    for row in json.loads(path.read_text())[section]:
        if _identity(row, identity) not in stored:
            save(row)
            added += 1
    return added
