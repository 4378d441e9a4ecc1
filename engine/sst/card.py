"""What the Model page and the model card show: the shipped checkpoint's card data, its training
curves, and the evaluation table (SST beside the cascade, per condition) from stored evaluation runs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine import config
from engine.sst.checkpoint import load_model


def shipped_card(path: Path | None = None) -> dict | None:
    """Card data of models/sst.pt with its config and parameter count; None when no model is shipped."""
    path = Path(path or config.models_dir() / "sst.pt")
    if not path.exists():
        return None
    model, table, card = load_model(path)
    return {**card, "config": model.config.to_dict(), "parameters": model.num_parameters(),
            "tokens": len(table), "size_mb": path.stat().st_size / 2**20}


def curves_frame(card: dict) -> pd.DataFrame:
    """Training loss per logged update (the card keeps a thinned copy of curves.csv)."""
    return pd.DataFrame(card.get("curves", []))


def validation_frame(card: dict) -> pd.DataFrame:
    """Dev ORC-WER per validation and dev condition, long format (step, condition, orc_wer)."""
    return pd.DataFrame([{"step": r["step"], "condition": kind, "orc_wer": scores["orc_wer"]}
                         for r in card.get("validation", []) for kind, scores in r["dev"].items()])


def _pct(value) -> float | None:
    return None if value is None else round(100 * value, 1)


def evaluation_table(runs) -> pd.DataFrame:
    """One row per (run, condition) of `persistence.list_evaluation_runs()` results, counts beside rates."""
    rows = []
    for run in runs:
        parts = list(run.results.get("conditions", {}).items()) + [("overall", run.results.get("overall", {}))]
        for condition, r in parts:
            if "orc_wer" not in r:
                continue
            turns = r.get("turns", {})
            rows.append({
                "backend": run.backend, "set": run.set_name, "run": run.id, "condition": condition,
                "meetings": r.get("meetings"), "words": r["orc_wer"]["words"],
                "ORC-WER %": _pct(r["orc_wer"]["wer"]), "cpWER %": _pct(r.get("cp_wer", {}).get("wer")),
                "turn count acc %": _pct(turns.get("turn_count_accuracy")),
                "end latency p50 s": turns.get("end_latency", {}).get("p50"),
                "start latency p50 s": turns.get("start_latency", {}).get("p50"),
                "RTF": r.get("rtf"),
            })
    return pd.DataFrame(rows)
