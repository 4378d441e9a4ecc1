"""The shipped demo evaluation sets: Speech Accent Archive speakers recognised by Whisper and by pocketsphinx.

engine/assets/saa_demo.parquet is built by scripts/build_saa_demo.py: one row per speaker with the archive's
metadata, a speaker embedding and one hypothesis column per recogniser (no audio). The dashboard seeds one
evaluation set per recogniser into the database on start, once, so the pages can compare the two systems on
the same speakers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import IntegrityError

from engine import persistence
from engine.errors import UserError

DEMO_PARQUET = Path(__file__).resolve().parent.parent / "assets" / "saa_demo.parquet"
ATTRIBUTION = (
    "Speech Accent Archive: Weinberger, Steven H., George Mason University, http://accent.gmu.edu, "
    "licensed CC BY-NC-SA 2.0 (non-commercial use only). Audio re-encoded to 8 kHz Ogg Opus; this demo "
    "ships only the recognisers' hypotheses, embeddings and the archive's speaker metadata, not the audio."
)
# Per-file columns of the parquet that are not speaker attributes.
NOT_ATTRIBUTES = ("duration_s",)


@dataclass(frozen=True)
class DemoRecogniser:
    set_name: str  # the evaluation set it seeds
    asr: str  # what ran, as the build records it
    column: str  # its hypothesis column in the parquet

    @property
    def source(self) -> str:
        return (
            "Speech Accent Archive, every speaker reading the 'Please call Stella' paragraph; hypotheses "
            f"from {self.asr} (scripts/build_saa_demo.py)"
        )


RECOGNISERS = {
    "whisper": DemoRecogniser(
        "Speech Accent Archive (Whisper tiny.en)",
        "Whisper tiny.en (CTranslate2 int8, greedy, whole file)",
        "hypothesis_whisper",
    ),
    "pocketsphinx": DemoRecogniser(
        "Speech Accent Archive (pocketsphinx)",
        "the cascade's pocketsphinx en-us recogniser (whole file)",
        "hypothesis_pocketsphinx",
    ),
}
# The set the fairness pages open on: the recogniser the product uses by default.
DEMO_SET_NAME = RECOGNISERS["whisper"].set_name
DEMO_SET_NAMES = tuple(spec.set_name for spec in RECOGNISERS.values())


def recognisers_in(table: pd.DataFrame) -> list[str]:
    """The recognisers with at least one hypothesis in `table` (a parquet in the shipped layout)."""
    return [
        name for name, spec in RECOGNISERS.items() if spec.column in table.columns and table[spec.column].notna().any()
    ]


def demo_frame(table: pd.DataFrame, recogniser: str) -> pd.DataFrame:
    """The evaluation-set table of one recogniser: its hypothesis column as `hypothesis`, rows it has."""
    spec = RECOGNISERS[recogniser]
    rows = table[table[spec.column].notna()]
    return rows.drop(
        columns=[s.column for s in RECOGNISERS.values() if s.column in rows.columns] + list(NOT_ATTRIBUTES),
        errors="ignore",
    ).assign(hypothesis=rows[spec.column])


# The name and source the pocketsphinx demo set had before the Whisper set joined it; a database seeded then
# holds it under that name, and the set under its new name replaces it.
LEGACY_SET_NAME = "Speech Accent Archive (cascade)"
LEGACY_SOURCE = (
    "Speech Accent Archive, every speaker reading the 'Please call Stella' paragraph; hypotheses "
    "from the cascade's pocketsphinx recogniser (scripts/build_saa_demo.py)"
)


def seed_demo_set(url: str | None = None) -> bool:
    """Import each recogniser's demo set unless it is there already; True when this call imported any.

    A database seeded from an older, smaller parquet (the build resumes and grows it) gets the new one. The
    default regions and cohorts analyses of every demo set are computed here, once per database, so the
    first visit of the fairness pages reads stored numbers instead of computing them.
    """
    if not DEMO_PARQUET.exists():
        return False
    table = pd.read_parquet(DEMO_PARQUET)
    stored = {info.name: info for info in persistence.list_evaluation_sets(url)}
    legacy = stored.get(LEGACY_SET_NAME)
    if legacy is not None and legacy.source == LEGACY_SOURCE:
        with persistence.session_scope(url) as s:
            persistence.delete_evaluation_set(s, LEGACY_SET_NAME)
    imported = False
    for recogniser in recognisers_in(table):
        spec = RECOGNISERS[recogniser]
        frame = demo_frame(table, recogniser)
        existing = stored.get(spec.set_name)
        if existing is None or existing.n_utterances != len(frame):
            from engine.fairness.importing import import_frame

            try:
                import_frame(
                    frame,
                    spec.set_name,
                    source=spec.source,
                    attribution=ATTRIBUTION,
                    replace=existing is not None,
                    url=url,
                )
            except (UserError, IntegrityError):  # another process seeded it a moment ago
                continue
            imported = True
        _ensure_default_analyses(spec.set_name, url)
    return imported


def _ensure_default_analyses(set_name: str, url: str | None) -> None:
    """The analyses the pages open with (their default parameters), unless stored already."""
    from dataclasses import asdict

    from engine.fairness import analyses
    from engine.fairness.cohorts import CohortParams
    from engine.fairness.regions import RegionParams

    info = persistence.get_evaluation_set(set_name, url)
    if persistence.latest_analysis(info.id, "regions", params=analyses.region_params(RegionParams()), url=url) is None:
        analyses.run_regions(set_name, RegionParams(), url=url)
    for method in ("geodemographic", "automatic"):
        if persistence.latest_analysis(info.id, "cohorts", method, asdict(CohortParams()), url=url) is None:
            analyses.run_cohorts(set_name, method, CohortParams(), url=url)
