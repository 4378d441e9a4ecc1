"""What the Model page and the model card show of the shipped checkpoint: its card data and training
curves (stored evaluation runs, SST beside the cascade, are engine/sst/comparison.py)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine import config
from engine.sst.checkpoint import checkpoint_id, load_model
from engine.voice_changes import threshold_for


def shipped_card(path: Path | None = None) -> dict | None:
    """Card data of models/sst.pt with its config, parameter count, checkpoint id and the voice-change threshold
    it runs with; None when no model is shipped."""
    path = Path(path or config.models_dir() / "sst.pt")
    if not path.exists():
        return None
    model, table, card = load_model(path)
    return {**card, "config": model.config.to_dict(), "parameters": model.num_parameters(),
            "tokens": len(table), "size_mb": path.stat().st_size / 2**20,
            "checkpoint_id": checkpoint_id(path), "voice_change_threshold": threshold_for(card)}


def curves_frame(card: dict) -> pd.DataFrame:
    """Training loss per logged update (the card keeps a thinned copy of curves.csv)."""
    return pd.DataFrame(card.get("curves", []))


def validation_frame(card: dict) -> pd.DataFrame:
    """Dev ORC-WER per validation and dev condition, long format (step, condition, orc_wer)."""
    return pd.DataFrame([{"step": r["step"], "condition": kind, "orc_wer": scores["orc_wer"]}
                         for r in card.get("validation", []) for kind, scores in r["dev"].items()])
