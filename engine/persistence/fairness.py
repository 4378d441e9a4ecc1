"""Fairness data: evaluation sets, their speakers and utterances, stored region and cohort analyses.

Writers take the caller's Session (its unit of work commits them); readers take an optional url.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from db.models import Analysis, Cohort, CohortMember, EvaluationSet, Region, Speaker, Utterance
from engine.errors import UserError
from engine.persistence.scope import session_scope

_INSERT_BATCH = 50_000  # rows per executemany: bounded memory, and a progress tick per batch
IN_CHUNK = 10_000  # ids per IN (...) list


@dataclass(frozen=True)
class EvaluationSetInfo:
    id: int
    name: str
    source: str
    attribution: str
    params: dict[str, Any]
    n_speakers: int
    n_utterances: int
    created_at: datetime


@dataclass(frozen=True)
class AnalysisInfo:
    id: int
    set_id: int
    kind: str  # regions | cohorts
    method: str
    params: dict[str, Any]
    definitions: dict[str, Any]
    summary: dict[str, Any]
    rows: list[dict[str, Any]]  # regions (rank order) or cohorts, as plain dicts
    created_at: datetime


def _present(value):
    """None for missing values (NaN from pandas included), the value otherwise."""
    return None if value is None or (isinstance(value, float) and value != value) else value


def save_evaluation_set(
    s: Session,
    name: str,
    speakers: pd.DataFrame,
    utterances: pd.DataFrame,
    *,
    source: str = "",
    attribution: str = "",
    params: dict[str, Any] | None = None,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> EvaluationSetInfo:
    """Store a set with bulk core inserts, in the caller's unit of work (a failure leaves nothing behind).

    `speakers`: speaker_key, lat, lon, place, zip, attributes, embedding. `utterances`: utterance_key,
    speaker_key, reference, hypothesis, substitutions, deletions, insertions, ref_words.
    """
    name = name.strip()
    if not name:
        raise UserError("An evaluation set needs a name.")
    existing = s.scalar(select(EvaluationSet.id).where(EvaluationSet.name == name))
    if existing is not None:
        if not replace:
            raise UserError(f"An evaluation set named '{name}' exists already; choose another name or replace it.")
        s.execute(delete(EvaluationSet).where(EvaluationSet.id == existing))
    # sets never change after import, so their sizes are stored once instead of counted on every listing
    params = {**(params or {}), "n_speakers": len(speakers), "n_utterances": len(utterances)}
    row = EvaluationSet(name=name, source=source, attribution=attribution, params=params)
    s.add(row)
    s.flush()
    conn = s.connection()
    speaker_rows = [
        {
            "set_id": row.id,
            "speaker_key": str(key),
            "lat": _present(lat),
            "lon": _present(lon),
            "place": _present(place) or None,
            "zip": _present(zip_code) or None,
            "attributes": attributes or {},
            "embedding": embedding,
        }
        for key, lat, lon, place, zip_code, attributes, embedding in zip(
            speakers["speaker_key"],
            speakers["lat"],
            speakers["lon"],
            speakers["place"],
            speakers["zip"],
            speakers["attributes"],
            speakers["embedding"],
        )
    ]
    conn.execute(insert(Speaker), speaker_rows)
    ids = dict(conn.execute(select(Speaker.speaker_key, Speaker.id).where(Speaker.set_id == row.id)).all())
    utt = pd.DataFrame(
        {
            "set_id": row.id,
            "speaker_id": utterances["speaker_key"].map(ids).astype(int),
            "utterance_key": utterances["utterance_key"].astype(str),
            "reference": utterances["reference"],
            "hypothesis": utterances["hypothesis"],
            **{c: utterances[c].astype(int) for c in ("substitutions", "deletions", "insertions", "ref_words")},
        }
    )
    # plain lists and dicts: DataFrame.to_dict("records") costs several times more at a million rows
    columns = {c: utt[c].tolist() for c in utt.columns}
    for start in range(0, len(utt), _INSERT_BATCH):
        values = zip(*(column[start : start + _INSERT_BATCH] for column in columns.values()))
        rows = [dict(zip(columns, row)) for row in values]
        conn.execute(insert(Utterance), rows)
        if progress is not None:
            progress(len(rows))
    return EvaluationSetInfo(
        row.id, row.name, row.source, row.attribution, dict(row.params), len(speakers), len(utt), row.created_at
    )


def list_evaluation_sets(url: str | None = None) -> list[EvaluationSetInfo]:
    with session_scope(url) as s:
        return [
            EvaluationSetInfo(
                r.id,
                r.name,
                r.source,
                r.attribution,
                dict(r.params or {}),
                int((r.params or {}).get("n_speakers", 0)),
                int((r.params or {}).get("n_utterances", 0)),
                r.created_at,
            )
            for r in s.scalars(select(EvaluationSet).order_by(EvaluationSet.created_at, EvaluationSet.id))
        ]


def get_evaluation_set(name: str, url: str | None = None) -> EvaluationSetInfo:
    found = next((info for info in list_evaluation_sets(url) if info.name == name), None)
    if found is None:
        raise UserError(f"There is no evaluation set named '{name}'.")
    return found


def delete_evaluation_set(s: Session, name: str) -> None:
    s.execute(delete(EvaluationSet).where(EvaluationSet.name == name))


def speaker_totals(set_id: int, *, with_embeddings: bool = False, url: str | None = None) -> pd.DataFrame:
    """One row per speaker: location, attributes, Σ errors, Σ reference words, utterances (summed in SQL)."""
    totals = (
        select(
            Utterance.speaker_id,
            func.sum(Utterance.substitutions + Utterance.deletions + Utterance.insertions).label("errors"),
            func.sum(Utterance.ref_words).label("words"),
            func.count().label("n_utterances"),
        )
        .where(Utterance.set_id == set_id)
        .group_by(Utterance.speaker_id)
        .subquery()
    )
    columns = [
        Speaker.id.label("speaker_id"),
        Speaker.speaker_key,
        Speaker.lat,
        Speaker.lon,
        Speaker.place,
        Speaker.attributes,
        totals.c.errors,
        totals.c.words,
        totals.c.n_utterances,
    ]
    if with_embeddings:
        columns.append(Speaker.embedding)
    query = select(*columns).join(totals, totals.c.speaker_id == Speaker.id).order_by(Speaker.id)
    with session_scope(url) as s:
        frame = pd.DataFrame(s.execute(query).all(), columns=[c.name for c in columns])
    for column in ("errors", "words", "n_utterances"):
        frame[column] = frame[column].astype(np.int64)
    frame["lat"] = frame["lat"].astype(float)
    frame["lon"] = frame["lon"].astype(float)
    return frame


def worst_utterances(set_id: int, speaker_ids: Iterable[int], limit: int = 20, url: str | None = None) -> pd.DataFrame:
    """The utterances with the most errors among these speakers (for the click-through to a region)."""
    errors = Utterance.substitutions + Utterance.deletions + Utterance.insertions
    ids = [int(i) for i in speaker_ids]
    rows = []
    with session_scope(url) as s:
        # in chunks: databases cap the number of bound parameters, and a region may hold 50k speakers
        for start in range(0, len(ids), IN_CHUNK):
            query = (
                select(
                    Utterance.utterance_key,
                    Speaker.speaker_key,
                    Utterance.reference,
                    Utterance.hypothesis,
                    Utterance.substitutions,
                    Utterance.deletions,
                    Utterance.insertions,
                    Utterance.ref_words,
                    errors.label("errors"),
                    Utterance.id,
                )
                .join(Speaker, Speaker.id == Utterance.speaker_id)
                .where(Utterance.set_id == set_id, Utterance.speaker_id.in_(ids[start : start + IN_CHUNK]))
                .order_by(errors.desc(), Utterance.id)
                .limit(limit)
            )
            rows += s.execute(query).all()
    rows = sorted(rows, key=lambda r: (-r.errors, r.id))[:limit]
    return pd.DataFrame(
        [r[:8] for r in rows],
        columns=[
            "utterance",
            "speaker",
            "reference",
            "hypothesis",
            "substitutions",
            "deletions",
            "insertions",
            "ref_words",
        ],
    )


def save_analysis(
    s: Session,
    set_id: int,
    kind: str,
    method: str,
    params: dict[str, Any],
    definitions: dict[str, Any],
    summary: dict[str, Any],
    rows: list[dict[str, Any]],
) -> int:
    """A regions or cohorts analysis with its rows; cohort rows carry `members` (speaker ids)."""
    analysis = Analysis(
        set_id=set_id, kind=kind, method=method, params=params, definitions=definitions, summary=summary
    )
    s.add(analysis)
    s.flush()
    conn = s.connection()
    if kind == "regions":
        conn.execute(insert(Region), [{**r, "analysis_id": analysis.id} for r in rows])
    else:
        for r in rows:
            members = r.get("members", [])
            cohort_id = conn.execute(
                insert(Cohort).values(analysis_id=analysis.id, **{k: v for k, v in r.items() if k != "members"})
            ).inserted_primary_key[0]
            if members:
                conn.execute(insert(CohortMember), [{"cohort_id": cohort_id, "speaker_id": int(m)} for m in members])
    return analysis.id


_REGION_FIELDS = (
    "rank",
    "errors",
    "ref_words",
    "wer",
    "ci_low",
    "ci_high",
    "n_speakers",
    "polygon",
    "bounds",
    "flagged",
    "speaker_ids",
)
_COHORT_FIELDS = (
    "id",
    "method",
    "label",
    "definition",
    "errors",
    "ref_words",
    "wer",
    "ci_low",
    "ci_high",
    "n_speakers",
    "share_pct",
    "is_bottom",
    "wer_gap_pct",
    "small",
)


def latest_analysis(
    set_id: int, kind: str, method: str | None = None, params: dict[str, Any] | None = None, url: str | None = None
) -> AnalysisInfo | None:
    """The newest stored analysis of this kind (and method, and exactly these parameters when given)."""
    with session_scope(url) as s:
        query = select(Analysis.id, Analysis.params).where(Analysis.set_id == set_id, Analysis.kind == kind)
        if method:
            query = query.where(Analysis.method == method)
        found = next(
            (
                analysis_id
                for analysis_id, stored in s.execute(query.order_by(Analysis.id.desc()))
                if params is None or stored == params
            ),
            None,
        )
        if found is None:
            return None
        a = s.get(Analysis, found)
        if kind == "regions":
            rows = [{f: getattr(r, f) for f in _REGION_FIELDS} for r in a.regions]
        else:
            rows = [{f: getattr(c, f) for f in _COHORT_FIELDS} for c in a.cohorts]
        return AnalysisInfo(
            a.id, a.set_id, a.kind, a.method, dict(a.params), dict(a.definitions), dict(a.summary), rows, a.created_at
        )


def cohort_member_ids(cohort_id: int, url: str | None = None) -> list[int]:
    with session_scope(url) as s:
        return list(s.scalars(select(CohortMember.speaker_id).where(CohortMember.cohort_id == cohort_id)))


def cohort_members(analysis_id: int, url: str | None = None) -> dict[int, list[int]]:
    """Speaker ids of every cohort of an analysis, by cohort id, in one query."""
    query = (
        select(CohortMember.cohort_id, CohortMember.speaker_id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(Cohort.analysis_id == analysis_id)
        .order_by(CohortMember.cohort_id, CohortMember.speaker_id)
    )
    members: dict[int, list[int]] = {}
    with session_scope(url) as s:
        for cohort_id, speaker_id in s.execute(query):
            members.setdefault(cohort_id, []).append(speaker_id)
    return members
