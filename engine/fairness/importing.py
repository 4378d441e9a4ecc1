"""Import an evaluation set: checked table → scored speakers/utterances → database, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from engine import persistence
from engine.fairness import evalset, tables


@dataclass(frozen=True)
class ImportResult:
    info: persistence.EvaluationSetInfo
    geocoding: evalset.GeocodeReport
    errors: int
    ref_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else float("nan")


def import_frame(
    frame: pd.DataFrame,
    name: str,
    *,
    source: str = "",
    attribution: str = "",
    replace: bool = False,
    on_scored: Callable[[int], None] | None = None,
    on_stored: Callable[[int], None] | None = None,
    url: str | None = None,
) -> ImportResult:
    """`frame` is checked here (UserError naming row and column); nothing is stored unless all of it is (one
    unit of work)."""
    checked = tables.check_schema(frame)
    prepared = evalset.prepare(checked, on_scored)
    counts = prepared.utterances
    errors = int(counts[["substitutions", "deletions", "insertions"]].to_numpy().sum())
    ref_words = int(counts["ref_words"].sum())
    params = {
        "columns": list(frame.columns.drop("embedding", errors="ignore")),
        "geocoding": prepared.geocoding.as_dict(),
    }
    with persistence.session_scope(url) as s:
        info = persistence.save_evaluation_set(
            s,
            name,
            prepared.speakers,
            prepared.utterances,
            source=source,
            attribution=attribution,
            params=params,
            replace=replace,
            progress=on_stored,
        )
    return ImportResult(info, prepared.geocoding, errors, ref_words)
