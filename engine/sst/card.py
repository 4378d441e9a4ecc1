"""What the Model page shows of the shipped SST file: its card (where it came from, how it decodes, dev
losses), sizes and training curves. Stored evaluation runs, SST beside the cascade, are engine/sst/comparison.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from engine import config
from engine.sst.package import package_id, read_package


def shipped_card(path: Path | None = None) -> dict | None:
    """Card of models/sst.pt with its settings, trained parameter count, size and file id; None when no
    model is shipped. Raises UserError for a file of another format."""
    path = Path(path or config.models_dir() / "sst.pt")
    if not path.exists():
        return None
    payload = read_package(path)
    return {
        **payload["card"],
        "settings": payload["settings"],
        "base_sha256": payload["base_sha256"],
        "parameters": sum(v.numel() for v in payload["trained"].values()),
        "size_mb": path.stat().st_size / 2**20,
        "checkpoint_id": package_id(path),
    }


def curves_frame(run_dir: Path | None) -> pd.DataFrame:
    """Training loss per update of a run folder's stage (curves.jsonl); empty when the run is not here."""
    if run_dir is None or not (Path(run_dir) / "curves.jsonl").exists():
        return pd.DataFrame()
    rows = [json.loads(line) for line in (Path(run_dir) / "curves.jsonl").read_text().splitlines()]
    return pd.DataFrame([{k: v for k, v in r.items() if k != "dev"} for r in rows])
