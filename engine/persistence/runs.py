"""Transcription runs, their turns and speaker names.

Writers take the caller's Session (its unit of work commits them); readers take an optional url.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.models import Recording, RunSpeaker, TranscriptionRun, TurnRow, utcnow
from engine.errors import UserError
from engine.persistence.records import RunInfo, _run_info
from engine.persistence.scope import session_scope
from engine.types import Turn, Word

MAX_SPEAKER_NAME = 128


def create_run(s: Session, recording_id: int, backend: str, params: dict[str, Any] | None = None) -> RunInfo:
    if s.get(Recording, recording_id) is None:
        raise UserError("This recording no longer exists; it may have been deleted.")
    row = TranscriptionRun(recording_id=recording_id, backend=backend, params=dict(params or {}), status="queued")
    s.add(row)
    s.flush()
    return _run_info(row, 0)


def attach_job(s: Session, run_id: int, job_id: int) -> None:
    s.execute(update(TranscriptionRun).where(TranscriptionRun.id == run_id).values(job_id=job_id))


def mark_run_running(s: Session, run_id: int) -> RunInfo:
    """Set by the job's handler as it starts (the claim sets it too, through the run's job id); returns the run."""
    s.execute(update(TranscriptionRun).where(TranscriptionRun.id == run_id).values(status="running"))
    return _get_run(s, run_id)


def _get_run(s: Session, run_id: int) -> RunInfo:
    row = s.get(TranscriptionRun, run_id)
    if row is None:
        raise UserError("This transcription no longer exists; its recording may have been deleted.")
    return _run_info(row, len(row.turns))


def get_run(run_id: int, url: str | None = None) -> RunInfo:
    with session_scope(url) as s:
        return _get_run(s, run_id)


def list_runs(recording_id: int | None = None, url: str | None = None) -> list[RunInfo]:
    with session_scope(url) as s:
        n_turns = select(TurnRow.run_id, func.count().label("n")).group_by(TurnRow.run_id).subquery()
        query = (
            select(TranscriptionRun, func.coalesce(n_turns.c.n, 0))
            .outerjoin(n_turns, n_turns.c.run_id == TranscriptionRun.id)
            .order_by(TranscriptionRun.created_at.desc(), TranscriptionRun.id.desc())
        )
        if recording_id is not None:
            query = query.where(TranscriptionRun.recording_id == recording_id)
        return [_run_info(run, n) for run, n in s.execute(query)]


def latest_finished_run(recording_id: int, url: str | None = None) -> RunInfo | None:
    return next((r for r in list_runs(recording_id, url) if r.status == "done"), None)


def _replace_turns(s: Session, run_id: int, turns: list[Turn]) -> None:
    s.execute(delete(TurnRow).where(TurnRow.run_id == run_id))
    s.add_all(
        TurnRow(
            run_id=run_id,
            speaker=t.speaker,
            channel=t.channel,
            start=float(t.start),
            end=float(t.end),
            text=t.text,
            unterminated=bool(t.unterminated),
            words=[[w.text, w.start, w.end] for w in t.words],
        )
        for t in turns
    )


def save_turns(s: Session, run_id: int, turns: Iterable[Turn], *, rtf: float | None = None) -> int:
    """Replace the run's turns with `turns` and mark it done. Returns the count."""
    turns = list(turns)
    run = s.get(TranscriptionRun, run_id)
    if run is None:
        raise UserError("This transcription no longer exists; its recording may have been deleted.")
    _replace_turns(s, run_id, turns)
    run.status, run.rtf, run.finished_at = "done", rtf, utcnow()
    s.flush()  # a bad turn fails here, inside the caller's unit of work
    return len(turns)


def save_partial_turns(s: Session, run_id: int, turns: Iterable[Turn]) -> bool:
    """Replace a running run's turns with the ones decoded so far (the page shows them while the job runs).

    Only a run that is still running is touched: a late call can never overwrite a finished transcript.
    Returns whether the turns were stored.
    """
    turns = list(turns)
    run = s.get(TranscriptionRun, run_id)
    if run is None or run.status != "running":
        return False
    _replace_turns(s, run_id, turns)
    return True


def get_turns(run_id: int, *, display_names: bool = False, url: str | None = None) -> list[Turn]:
    """The run's turns by start time; with display_names, speaker labels replaced by their given names."""
    with session_scope(url) as s:
        names = _speaker_names(s, run_id) if display_names else {}
        rows = s.scalars(select(TurnRow).where(TurnRow.run_id == run_id).order_by(TurnRow.start, TurnRow.id))
        return [
            Turn(
                speaker=names.get(r.speaker, r.speaker),
                start=r.start,
                end=r.end,
                channel=r.channel,
                unterminated=r.unterminated,
                words=[Word(*w) for w in r.words],
            )
            for r in rows
        ]


def _speaker_names(s: Session, run_id: int) -> dict[str, str]:
    labels = set(s.scalars(select(TurnRow.speaker).where(TurnRow.run_id == run_id)))
    given = dict(s.execute(select(RunSpeaker.label, RunSpeaker.name).where(RunSpeaker.run_id == run_id)).all())
    return {label: given.get(label, label) for label in sorted(labels)}


def speaker_names(run_id: int, url: str | None = None) -> dict[str, str]:
    """label -> display name, for every label of the run in label order (a label without a name maps to itself)."""
    with session_scope(url) as s:
        return _speaker_names(s, run_id)


def speaker_labels(run_id: int, url: str | None = None) -> list[str]:
    return list(speaker_names(run_id, url))


def rename_speaker(s: Session, run_id: int, label: str, name: str) -> None:
    """Give a speaker label of a run a display name; an empty name restores the label."""
    name = " ".join(name.split())
    if len(name) > MAX_SPEAKER_NAME:
        raise UserError(f"A speaker name can be at most {MAX_SPEAKER_NAME} characters long.")
    names = _speaker_names(s, run_id)
    if label not in names:
        raise UserError(f"This transcription has no speaker labelled '{label}'.")
    if name and name in {n for lab, n in names.items() if lab != label}:
        raise UserError(f"Another speaker of this transcription is already called '{name}'.")
    row = s.scalar(select(RunSpeaker).where(RunSpeaker.run_id == run_id, RunSpeaker.label == label))
    if not name or name == label:
        if row is not None:
            s.delete(row)
    elif row is None:
        s.add(RunSpeaker(run_id=run_id, label=label, name=name))
    else:
        row.name = name
