"""The --json formats other tools consume (issue 5): plain JSON, fractions for WER, NaN written as null."""

from __future__ import annotations

import json
from pathlib import Path

from engine.persistence import AnalysisInfo


def _number(value):
    return None if value is None or value != value else float(value)


def regions_document(analysis: AnalysisInfo) -> dict:
    return {
        "regions": [
            {
                "rank": r["rank"],
                "wer": _number(r["wer"]),
                "ci_low": _number(r["ci_low"]),
                "ci_high": _number(r["ci_high"]),
                "n_speakers": r["n_speakers"],
                "n_words": r["ref_words"],
                "polygon": r["polygon"],
                "flagged": bool(r["flagged"]),
            }
            for r in analysis.rows
        ]
    }


def cohorts_document(analysis: AnalysisInfo) -> dict:
    return {
        "cohorts": [
            {
                "method": c["method"],
                "label": c["label"],
                "definition": c["definition"],
                "wer": _number(c["wer"]),
                "ci_low": _number(c["ci_low"]),
                "ci_high": _number(c["ci_high"]),
                "n_speakers": c["n_speakers"],
                "share_pct": _number(c["share_pct"]),
                "is_bottom": bool(c["is_bottom"]),
                "wer_gap_pct": _number(c["wer_gap_pct"]),
            }
            for c in analysis.rows
        ]
    }


def write_json(document: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, allow_nan=False))
    tmp.replace(path)
