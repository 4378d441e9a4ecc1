"""The one module through which engine code (and the pages) reads and writes the database.

Recordings are content-addressed: the same bytes uploaded twice give the same recording. A recording's
row is written only after its audio is safely in the AudioStore, and any failure on the way leaves
neither row nor file behind. Functions return plain frozen dataclasses, never ORM objects, so callers
cannot trip over detached sessions or lazy loads.

Every function takes an optional `url` (default: config.database_url()) so tests and tools can point
at any database.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from db import init_db, session_scope
from db.models import (
    Analysis, Cohort, CohortMember, EvaluationRun, EvaluationSet, Experiment, Job, Recording, Region, RunSpeaker, Speaker, TranscriptionRun,
    TurnRow, Utterance, utcnow,
)
from engine import audio, config
from engine.errors import UserError
from engine.storage import AudioStore, default_store, sha256_of_file
from engine.types import Turn, Word

ACTIVE_JOB_STATES = ("queued", "running", "cancelling")
FINAL_JOB_STATES = ("done", "failed", "cancelled")
MAX_SPEAKER_NAME = 128


# --- plain records handed to callers -------------------------------------------------------------

@dataclass(frozen=True)
class RecordingInfo:
    id: int
    sha256: str
    filename: str
    size_bytes: int
    duration_s: float
    sample_rate: int
    channels: int
    is_demo: bool
    created_at: datetime


@dataclass(frozen=True)
class RunInfo:
    id: int
    recording_id: int
    job_id: int | None
    backend: str
    params: dict[str, Any]
    status: str
    rtf: float | None
    n_turns: int
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class JobInfo:
    id: int
    kind: str
    params: dict[str, Any]
    status: str
    progress: float
    message: str
    error: str | None
    result: dict[str, Any] | None
    worker_pid: int | None
    worker_host: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATES


def _recording_info(row: Recording) -> RecordingInfo:
    return RecordingInfo(row.id, row.sha256, row.filename, row.size_bytes, row.duration_s,
                         row.source_sample_rate, row.source_channels, row.is_demo, row.created_at)


def _run_info(row: TranscriptionRun, n_turns: int) -> RunInfo:
    return RunInfo(row.id, row.recording_id, row.job_id, row.backend, dict(row.params or {}), row.status,
                   row.rtf, n_turns, row.created_at, row.finished_at)


def _job_info(row: Job) -> JobInfo:
    return JobInfo(row.id, row.kind, dict(row.params or {}), row.status, row.progress, row.message, row.error,
                   row.result, row.worker_pid, row.worker_host, _aware(row.heartbeat_at), row.created_at,
                   row.started_at, row.finished_at)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; everything we store is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


# --- recordings ----------------------------------------------------------------------------------

def add_recording(src: Path, filename: str, *, is_demo: bool = False, store: AudioStore | None = None,
                  url: str | None = None) -> RecordingInfo:
    """Check, probe and store an uploaded file; return its recording (the existing one for known bytes).

    Raises UserError (one sentence) for bad input; nothing is stored then.
    """
    src = Path(src)
    store = store or default_store()
    audio.check_size(src.stat().st_size)
    info = audio.probe(src)
    sha = sha256_of_file(src)
    with session_scope(url) as s:
        existing = s.scalar(select(Recording).where(Recording.sha256 == sha))
        if existing is not None:
            if not store.exists(sha):  # the row survived a lost file: restore the audio from this upload
                store.put_file(src, Path(filename).suffix.lower())
            return _recording_info(existing)

    file_was_there = store.exists(sha)
    stored_sha = store.put_file(src, Path(filename).suffix.lower())
    try:
        if stored_sha != sha:
            raise RuntimeError(f"audio store returned {stored_sha} for content {sha}")
        with session_scope(url) as s:
            row = Recording(sha256=sha, filename=Path(filename).name[:512], size_bytes=src.stat().st_size,
                            duration_s=info.duration_s, source_sample_rate=info.sample_rate,
                            source_channels=info.channels, is_demo=is_demo)
            s.add(row)
            s.flush()
            return _recording_info(row)
    except IntegrityError:
        # Another process stored the same bytes a moment ago: theirs is our recording too.
        with session_scope(url) as s:
            existing = s.scalar(select(Recording).where(Recording.sha256 == sha))
            if existing is not None:
                return _recording_info(existing)
        if not file_was_there:
            store.delete(stored_sha)
        raise
    except BaseException:
        if not file_was_there:
            store.delete(stored_sha)
        raise


def add_uploaded_recording(stream: BinaryIO, filename: str, *, url: str | None = None) -> RecordingInfo:
    """add_recording for an upload held in memory or a file object (a page's st.file_uploader result)."""
    folder = config.data_dir() / "incoming-uploads"
    folder.mkdir(exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, suffix=Path(filename).suffix.lower()[:9])
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        return add_recording(Path(name), filename, url=url)
    finally:
        os.unlink(name)


def list_recordings(url: str | None = None) -> list[RecordingInfo]:
    with session_scope(url) as s:
        rows = s.scalars(select(Recording).order_by(Recording.is_demo, Recording.created_at.desc(), Recording.id.desc()))
        return [_recording_info(r) for r in rows]


def get_recording(recording_id: int, url: str | None = None) -> RecordingInfo:
    with session_scope(url) as s:
        row = s.get(Recording, recording_id)
        if row is None:
            raise UserError("This recording no longer exists; it may have been deleted.")
        return _recording_info(row)


def find_recording_by_sha(sha: str, url: str | None = None) -> RecordingInfo | None:
    with session_scope(url) as s:
        row = s.scalar(select(Recording).where(Recording.sha256 == sha))
        return _recording_info(row) if row else None


def recording_audio_path(recording_id: int, *, store: AudioStore | None = None, url: str | None = None) -> Path:
    rec = get_recording(recording_id, url)
    store = store or default_store()
    if not store.exists(rec.sha256):
        raise UserError(f"The audio of '{rec.filename}' is missing from the audio store.")
    return store.path(rec.sha256)


def delete_recording(recording_id: int, *, store: AudioStore | None = None, url: str | None = None) -> None:
    """Delete a recording, its runs, turns and speaker names, then its audio file.

    Rows go first, in one transaction: if that fails nothing changed. Its jobs stay as history but lose
    their references to the deleted rows; a queued one is cancelled, a running one asked to stop.
    """
    store = store or default_store()
    with session_scope(url) as s:
        row = s.get(Recording, recording_id)
        if row is None:
            return
        sha = row.sha256
        run_ids = select(TranscriptionRun.id).where(TranscriptionRun.recording_id == recording_id)
        for job in s.scalars(select(Job).where(Job.id.in_(
                select(TranscriptionRun.job_id).where(TranscriptionRun.recording_id == recording_id)))):
            job.params = {k: v for k, v in job.params.items() if k not in ("run_id", "recording_id")}
            job.result = None
            if job.status == "queued":
                job.status, job.message, job.finished_at = "cancelled", "Cancelled: recording deleted.", utcnow()
            elif job.status == "running":
                job.status, job.message = "cancelling", "Cancelling: recording deleted…"
        s.execute(delete(TurnRow).where(TurnRow.run_id.in_(run_ids)))
        s.execute(delete(RunSpeaker).where(RunSpeaker.run_id.in_(run_ids)))
        s.execute(delete(TranscriptionRun).where(TranscriptionRun.recording_id == recording_id))
        s.execute(delete(Recording).where(Recording.id == recording_id))
    if store.exists(sha):
        store.delete(sha)


# --- transcription runs, turns, speaker names ----------------------------------------------------

def create_run(recording_id: int, backend: str, params: dict[str, Any] | None = None,
               url: str | None = None) -> RunInfo:
    with session_scope(url) as s:
        if s.get(Recording, recording_id) is None:
            raise UserError("This recording no longer exists; it may have been deleted.")
        row = TranscriptionRun(recording_id=recording_id, backend=backend, params=dict(params or {}),
                               status="queued")
        s.add(row)
        s.flush()
        return _run_info(row, 0)


def attach_job(run_id: int, job_id: int, url: str | None = None) -> None:
    with session_scope(url) as s:
        s.execute(update(TranscriptionRun).where(TranscriptionRun.id == run_id).values(job_id=job_id))


def mark_run_running(run_id: int, url: str | None = None) -> RunInfo:
    """Set by the job's handler itself: a worker may claim the job before the run learns its job id."""
    with session_scope(url) as s:
        s.execute(update(TranscriptionRun).where(TranscriptionRun.id == run_id).values(status="running"))
    return get_run(run_id, url)


def get_run(run_id: int, url: str | None = None) -> RunInfo:
    with session_scope(url) as s:
        row = s.get(TranscriptionRun, run_id)
        if row is None:
            raise UserError("This transcription no longer exists; its recording may have been deleted.")
        return _run_info(row, len(row.turns))


def list_runs(recording_id: int | None = None, url: str | None = None) -> list[RunInfo]:
    with session_scope(url) as s:
        n_turns = (select(TurnRow.run_id, func.count().label("n")).group_by(TurnRow.run_id).subquery())
        query = (select(TranscriptionRun, func.coalesce(n_turns.c.n, 0))
                 .outerjoin(n_turns, n_turns.c.run_id == TranscriptionRun.id)
                 .order_by(TranscriptionRun.created_at.desc(), TranscriptionRun.id.desc()))
        if recording_id is not None:
            query = query.where(TranscriptionRun.recording_id == recording_id)
        return [_run_info(run, n) for run, n in s.execute(query)]


def latest_finished_run(recording_id: int, url: str | None = None) -> RunInfo | None:
    return next((r for r in list_runs(recording_id, url) if r.status == "done"), None)


def _replace_turns(s, run_id: int, turns: list[Turn]) -> None:
    s.execute(delete(TurnRow).where(TurnRow.run_id == run_id))
    s.add_all(TurnRow(run_id=run_id, speaker=t.speaker, channel=t.channel, start=float(t.start),
                      end=float(t.end), text=t.text, unterminated=bool(t.unterminated),
                      words=[[w.text, w.start, w.end] for w in t.words]) for t in turns)


def save_turns(run_id: int, turns: Iterable[Turn], *, rtf: float | None = None, url: str | None = None) -> int:
    """Replace the run's turns with `turns` and mark it done, all in one transaction. Returns the count."""
    turns = list(turns)
    with session_scope(url) as s:
        run = s.get(TranscriptionRun, run_id)
        if run is None:
            raise UserError("This transcription no longer exists; its recording may have been deleted.")
        _replace_turns(s, run_id, turns)
        run.status, run.rtf, run.finished_at = "done", rtf, utcnow()
    return len(turns)


def save_partial_turns(run_id: int, turns: Iterable[Turn], url: str | None = None) -> bool:
    """Replace a running run's turns with the ones decoded so far (the page shows them while the job runs).

    Only a run that is still running is touched: a late call can never overwrite a finished transcript.
    Returns whether the turns were stored.
    """
    turns = list(turns)
    with session_scope(url) as s:
        run = s.get(TranscriptionRun, run_id)
        if run is None or run.status != "running":
            return False
        _replace_turns(s, run_id, turns)
    return True


def get_turns(run_id: int, *, display_names: bool = False, url: str | None = None) -> list[Turn]:
    """The run's turns by start time; with display_names, speaker labels replaced by their given names."""
    names = speaker_names(run_id, url) if display_names else {}
    with session_scope(url) as s:
        rows = s.scalars(select(TurnRow).where(TurnRow.run_id == run_id).order_by(TurnRow.start, TurnRow.id))
        return [Turn(speaker=names.get(r.speaker, r.speaker), start=r.start, end=r.end, channel=r.channel,
                     unterminated=r.unterminated, words=[Word(*w) for w in r.words]) for r in rows]


def speaker_labels(run_id: int, url: str | None = None) -> list[str]:
    with session_scope(url) as s:
        return sorted(set(s.scalars(select(TurnRow.speaker).where(TurnRow.run_id == run_id))))


def speaker_names(run_id: int, url: str | None = None) -> dict[str, str]:
    """label -> display name, for every label of the run (a label without a given name maps to itself)."""
    with session_scope(url) as s:
        given = dict(s.execute(select(RunSpeaker.label, RunSpeaker.name).where(RunSpeaker.run_id == run_id)).all())
    return {label: given.get(label, label) for label in speaker_labels(run_id, url)}


def rename_speaker(run_id: int, label: str, name: str, url: str | None = None) -> None:
    """Give a speaker label of a run a display name; an empty name restores the label."""
    name = " ".join(name.split())
    if len(name) > MAX_SPEAKER_NAME:
        raise UserError(f"A speaker name can be at most {MAX_SPEAKER_NAME} characters long.")
    if label not in speaker_labels(run_id, url):
        raise UserError(f"This transcription has no speaker labelled '{label}'.")
    others = {n for lab, n in speaker_names(run_id, url).items() if lab != label}
    if name and name in others:
        raise UserError(f"Another speaker of this transcription is already called '{name}'.")
    with session_scope(url) as s:
        row = s.scalar(select(RunSpeaker).where(RunSpeaker.run_id == run_id, RunSpeaker.label == label))
        if not name or name == label:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(RunSpeaker(run_id=run_id, label=label, name=name))
        else:
            row.name = name


# --- jobs (the state the job runner keeps in the database) ---------------------------------------

def enqueue_job(kind: str, params: dict[str, Any], url: str | None = None) -> int:
    with session_scope(url) as s:
        row = Job(kind=kind, params=dict(params), status="queued", message="Waiting for a worker…")
        s.add(row)
        s.flush()
        return row.id


def get_job(job_id: int, url: str | None = None) -> JobInfo | None:
    with session_scope(url) as s:
        row = s.get(Job, job_id)
        return _job_info(row) if row else None


def list_jobs(statuses: Iterable[str] | None = None, url: str | None = None) -> list[JobInfo]:
    with session_scope(url) as s:
        query = select(Job).order_by(Job.id)
        if statuses is not None:
            query = query.where(Job.status.in_(list(statuses)))
        return [_job_info(r) for r in s.scalars(query)]


def _set_job_state(s, job_id: int, status: str, **values) -> None:
    # A job that already ended keeps its end (a late report from its worker changes nothing).
    s.execute(update(Job).where(Job.id == job_id, Job.status.not_in(FINAL_JOB_STATES)).values(status=status, **values))
    # A transcription run mirrors the state of the job that produces it.
    run_status = {"running": "running", "cancelling": "running"}.get(status, status)
    s.execute(update(TranscriptionRun).where(TranscriptionRun.job_id == job_id).values(status=run_status))


def claim_next_job(kinds: Iterable[str], url: str | None = None) -> JobInfo | None:
    """Atomically take the oldest queued job of one of `kinds` for this process, or None.

    Compare-and-set on the status (UPDATE ... WHERE status='queued') makes this safe for any number of
    workers on SQLite or PostgreSQL: exactly one UPDATE matches.
    """
    kinds = list(kinds)
    while True:
        with session_scope(url) as s:
            job_id = s.scalar(select(Job.id).where(Job.status == "queued", Job.kind.in_(kinds))
                              .order_by(Job.id).limit(1))
            if job_id is None:
                return None
            now = utcnow()
            claimed = s.execute(
                update(Job).where(Job.id == job_id, Job.status == "queued").values(
                    status="running", worker_pid=os.getpid(), worker_host=socket.gethostname(),
                    started_at=now, heartbeat_at=now, progress=0.0, message="Starting…")
            ).rowcount == 1
            if claimed:
                s.execute(update(TranscriptionRun).where(TranscriptionRun.job_id == job_id).values(status="running"))
                return _job_info(s.get(Job, job_id))


def heartbeat(job_id: int, progress: float | None = None, message: str | None = None,
              url: str | None = None) -> str | None:
    """Record that the worker is alive (and its progress); return the job's status, None if it was deleted.

    The worker stops the job when this says "cancelling" or None.
    """
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if message is not None:
        values["message"] = message[:1000]
    with session_scope(url) as s:
        s.execute(update(Job).where(Job.id == job_id, Job.status.in_(("running", "cancelling"))).values(**values))
        return s.scalar(select(Job.status).where(Job.id == job_id))


def finish_job(job_id: int, result: dict[str, Any] | None, url: str | None = None) -> None:
    with session_scope(url) as s:
        _set_job_state(s, job_id, "done", progress=1.0, message="Done.", result=result, finished_at=utcnow())


def fail_job(job_id: int, error: str, url: str | None = None) -> None:
    with session_scope(url) as s:
        _set_job_state(s, job_id, "failed", error=error[:2000], message="Failed.", finished_at=utcnow())


def mark_cancelled(job_id: int, url: str | None = None) -> None:
    with session_scope(url) as s:
        _set_job_state(s, job_id, "cancelled", message="Cancelled.", finished_at=utcnow())


def request_cancel(job_id: int, url: str | None = None) -> JobInfo | None:
    """A queued job is cancelled at once; a running one is asked to stop (its worker finishes the cancel)."""
    with session_scope(url) as s:
        row = s.get(Job, job_id)
        if row is None:
            return None
        if row.status == "queued":
            _set_job_state(s, job_id, "cancelled", message="Cancelled.", finished_at=utcnow())
        elif row.status == "running":
            _set_job_state(s, job_id, "cancelling", message="Cancelling…")
    return get_job(job_id, url)


def fail_orphaned_jobs(is_alive: Callable[[str | None, int | None], bool | None], stale_after_s: float,
                       url: str | None = None) -> list[int]:
    """Mark running jobs whose worker is gone as failed (cancelling ones as cancelled); return their ids.

    `is_alive(host, pid)` answers True/False when it can tell (same host), None when it cannot; then a
    heartbeat older than `stale_after_s` decides.
    """
    stale_before = utcnow() - timedelta(seconds=stale_after_s)
    orphaned = []
    for job in list_jobs(("running", "cancelling"), url):
        alive = is_alive(job.worker_host, job.worker_pid)
        if alive is False or (alive is None and (job.heartbeat_at is None or job.heartbeat_at < stale_before)):
            with session_scope(url) as s:
                # Re-check inside the write: the worker may have finished the job meanwhile.
                if s.scalar(select(Job.status).where(Job.id == job.id)) not in ("running", "cancelling"):
                    continue
                if job.status == "cancelling":
                    _set_job_state(s, job.id, "cancelled", message="Cancelled.", finished_at=utcnow())
                else:
                    _set_job_state(s, job.id, "failed", message="Failed.", finished_at=utcnow(),
                                   error="The worker process stopped before this job finished.")
            orphaned.append(job.id)
    return orphaned


# --- fairness: evaluation sets, speakers, utterances, stored analyses ----------------------------

_INSERT_BATCH = 50_000  # rows per executemany: bounded memory, and a progress tick per batch
_IN_CHUNK = 10_000  # ids per IN (...) list


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


def ensure_schema(url: str | None = None) -> None:
    """Create or upgrade the schema (idempotent): for command-line tools that may meet a fresh database."""
    init_db(url)


def _present(value):
    """None for missing values (NaN from pandas included), the value otherwise."""
    return None if value is None or (isinstance(value, float) and value != value) else value


def save_evaluation_set(name: str, speakers: pd.DataFrame, utterances: pd.DataFrame, *, source: str = "",
                        attribution: str = "", params: dict[str, Any] | None = None, replace: bool = False,
                        progress: Callable[[int], None] | None = None, url: str | None = None) -> EvaluationSetInfo:
    """Store a set in one transaction (a failure leaves nothing behind), with bulk core inserts.

    `speakers`: speaker_key, lat, lon, place, zip, attributes, embedding. `utterances`: utterance_key,
    speaker_key, reference, hypothesis, substitutions, deletions, insertions, ref_words.
    """
    name = name.strip()
    if not name:
        raise UserError("An evaluation set needs a name.")
    with session_scope(url) as s:
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
            {"set_id": row.id, "speaker_key": str(key), "lat": _present(lat), "lon": _present(lon),
             "place": _present(place) or None, "zip": _present(zip_code) or None, "attributes": attributes or {},
             "embedding": embedding}
            for key, lat, lon, place, zip_code, attributes, embedding in zip(
                speakers["speaker_key"], speakers["lat"], speakers["lon"], speakers["place"], speakers["zip"],
                speakers["attributes"], speakers["embedding"])]
        conn.execute(insert(Speaker), speaker_rows)
        ids = dict(conn.execute(select(Speaker.speaker_key, Speaker.id).where(Speaker.set_id == row.id)).all())
        utt = pd.DataFrame({
            "set_id": row.id, "speaker_id": utterances["speaker_key"].map(ids).astype(int),
            "utterance_key": utterances["utterance_key"].astype(str), "reference": utterances["reference"],
            "hypothesis": utterances["hypothesis"],
            **{c: utterances[c].astype(int) for c in ("substitutions", "deletions", "insertions", "ref_words")},
        })
        # plain lists and dicts: DataFrame.to_dict("records") costs several times more at a million rows
        columns = {c: utt[c].tolist() for c in utt.columns}
        for start in range(0, len(utt), _INSERT_BATCH):
            values = zip(*(column[start:start + _INSERT_BATCH] for column in columns.values()))
            rows = [dict(zip(columns, row)) for row in values]
            conn.execute(insert(Utterance), rows)
            if progress is not None:
                progress(len(rows))
        return EvaluationSetInfo(row.id, row.name, row.source, row.attribution, dict(row.params),
                                 len(speakers), len(utt), row.created_at)


def list_evaluation_sets(url: str | None = None) -> list[EvaluationSetInfo]:
    with session_scope(url) as s:
        return [EvaluationSetInfo(r.id, r.name, r.source, r.attribution, dict(r.params or {}),
                                  int((r.params or {}).get("n_speakers", 0)), int((r.params or {}).get("n_utterances", 0)),
                                  r.created_at)
                for r in s.scalars(select(EvaluationSet).order_by(EvaluationSet.created_at, EvaluationSet.id))]


def get_evaluation_set(name: str, url: str | None = None) -> EvaluationSetInfo:
    found = next((info for info in list_evaluation_sets(url) if info.name == name), None)
    if found is None:
        raise UserError(f"There is no evaluation set named '{name}'.")
    return found


def delete_evaluation_set(name: str, url: str | None = None) -> None:
    with session_scope(url) as s:
        s.execute(delete(EvaluationSet).where(EvaluationSet.name == name))


def speaker_totals(set_id: int, *, with_embeddings: bool = False, url: str | None = None) -> pd.DataFrame:
    """One row per speaker: location, attributes, Σ errors, Σ reference words, utterances (summed in SQL)."""
    totals = (select(Utterance.speaker_id,
                     func.sum(Utterance.substitutions + Utterance.deletions + Utterance.insertions).label("errors"),
                     func.sum(Utterance.ref_words).label("words"), func.count().label("n_utterances"))
              .where(Utterance.set_id == set_id).group_by(Utterance.speaker_id).subquery())
    columns = [Speaker.id.label("speaker_id"), Speaker.speaker_key, Speaker.lat, Speaker.lon, Speaker.place,
               Speaker.attributes, totals.c.errors, totals.c.words, totals.c.n_utterances]
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


def worst_utterances(set_id: int, speaker_ids: Iterable[int], limit: int = 20,
                     url: str | None = None) -> pd.DataFrame:
    """The utterances with the most errors among these speakers (for the click-through to a region)."""
    errors = Utterance.substitutions + Utterance.deletions + Utterance.insertions
    ids = [int(i) for i in speaker_ids]
    rows = []
    with session_scope(url) as s:
        # in chunks: databases cap the number of bound parameters, and a region may hold 50k speakers
        for start in range(0, len(ids), _IN_CHUNK):
            query = (select(Utterance.utterance_key, Speaker.speaker_key, Utterance.reference, Utterance.hypothesis,
                            Utterance.substitutions, Utterance.deletions, Utterance.insertions, Utterance.ref_words,
                            errors.label("errors"), Utterance.id)
                     .join(Speaker, Speaker.id == Utterance.speaker_id)
                     .where(Utterance.set_id == set_id, Utterance.speaker_id.in_(ids[start:start + _IN_CHUNK]))
                     .order_by(errors.desc(), Utterance.id).limit(limit))
            rows += s.execute(query).all()
    rows = sorted(rows, key=lambda r: (-r.errors, r.id))[:limit]
    return pd.DataFrame([r[:8] for r in rows], columns=["utterance", "speaker", "reference", "hypothesis",
                                                        "substitutions", "deletions", "insertions", "ref_words"])


def save_analysis(set_id: int, kind: str, method: str, params: dict[str, Any], definitions: dict[str, Any],
                  summary: dict[str, Any], rows: list[dict[str, Any]], url: str | None = None) -> int:
    """A regions or cohorts analysis with its rows; cohort rows carry `members` (speaker ids)."""
    with session_scope(url) as s:
        analysis = Analysis(set_id=set_id, kind=kind, method=method, params=params, definitions=definitions,
                            summary=summary)
        s.add(analysis)
        s.flush()
        conn = s.connection()
        if kind == "regions":
            conn.execute(insert(Region), [{**r, "analysis_id": analysis.id} for r in rows])
        else:
            for r in rows:
                members = r.get("members", [])
                cohort_id = conn.execute(insert(Cohort).values(
                    analysis_id=analysis.id, **{k: v for k, v in r.items() if k != "members"})).inserted_primary_key[0]
                if members:
                    conn.execute(insert(CohortMember), [{"cohort_id": cohort_id, "speaker_id": int(m)} for m in members])
        return analysis.id


_REGION_FIELDS = ("rank", "errors", "ref_words", "wer", "ci_low", "ci_high", "n_speakers", "polygon", "bounds",
                  "flagged", "speaker_ids")
_COHORT_FIELDS = ("id", "method", "label", "definition", "errors", "ref_words", "wer", "ci_low", "ci_high",
                  "n_speakers", "share_pct", "is_bottom", "wer_gap_pct", "small")


def latest_analysis(set_id: int, kind: str, method: str | None = None, params: dict[str, Any] | None = None,
                    url: str | None = None) -> AnalysisInfo | None:
    """The newest stored analysis of this kind (and method, and exactly these parameters when given)."""
    with session_scope(url) as s:
        query = select(Analysis.id, Analysis.params).where(Analysis.set_id == set_id, Analysis.kind == kind)
        if method:
            query = query.where(Analysis.method == method)
        found = next((analysis_id for analysis_id, stored in s.execute(query.order_by(Analysis.id.desc()))
                      if params is None or stored == params), None)
        if found is None:
            return None
        a = s.get(Analysis, found)
        if kind == "regions":
            rows = [{f: getattr(r, f) for f in _REGION_FIELDS} for r in a.regions]
        else:
            rows = [{f: getattr(c, f) for f in _COHORT_FIELDS} for c in a.cohorts]
        return AnalysisInfo(a.id, a.set_id, a.kind, a.method, dict(a.params), dict(a.definitions),
                            dict(a.summary), rows, a.created_at)


def cohort_member_ids(cohort_id: int, url: str | None = None) -> list[int]:
    with session_scope(url) as s:
        return list(s.scalars(select(CohortMember.speaker_id).where(CohortMember.cohort_id == cohort_id)))


# --- evaluation runs (the harness: engine/evaluate.py) ------------------------------------------------

@dataclass(frozen=True)
class EvaluationRunInfo:
    id: int
    backend: str
    set_name: str
    params: dict[str, Any]
    results: dict[str, Any]
    created_at: datetime


def save_evaluation_run(backend: str, set_name: str, params: dict[str, Any], results: dict[str, Any],
                        url: str | None = None) -> int:
    """Store one scored run (results hold counts beside rates); returns its id."""
    with session_scope(url) as s:
        row = EvaluationRun(backend=backend, set_name=set_name, params=params, results=results)
        s.add(row)
        s.flush()
        return row.id


def list_evaluation_runs(backend: str | None = None, url: str | None = None) -> list[EvaluationRunInfo]:
    """Newest first."""
    with session_scope(url) as s:
        query = select(EvaluationRun).order_by(EvaluationRun.created_at.desc(), EvaluationRun.id.desc())
        if backend:
            query = query.where(EvaluationRun.backend == backend)
        return [EvaluationRunInfo(r.id, r.backend, r.set_name, r.params, r.results, r.created_at)
                for r in s.scalars(query)]


# --- mitigation experiments (engine/mitigation) ---------------------------------------------------------

@dataclass(frozen=True)
class ExperimentInfo:
    id: int
    kind: str  # ewc | arw
    name: str
    set_name: str | None
    params: dict[str, Any]  # enough to rerun the experiment (python -m engine mitigate rerun ID)
    results: dict[str, Any]  # counts beside rates
    created_at: datetime


def _experiment_info(row: Experiment, set_name: str | None) -> ExperimentInfo:
    return ExperimentInfo(row.id, row.kind, row.name, set_name, dict(row.params), dict(row.results), row.created_at)


def save_experiment(kind: str, name: str, params: dict[str, Any], results: dict[str, Any],
                    set_name: str | None = None, url: str | None = None) -> int:
    """Store a finished experiment in one transaction (never half-written); returns its id."""
    with session_scope(url) as s:
        set_id = s.scalar(select(EvaluationSet.id).where(EvaluationSet.name == set_name)) if set_name else None
        row = Experiment(kind=kind, name=name, set_id=set_id, params=params, results=results, status="done")
        s.add(row)
        s.flush()
        return row.id


def list_experiments(kind: str | None = None, url: str | None = None) -> list[ExperimentInfo]:
    """Newest first."""
    with session_scope(url) as s:
        query = (select(Experiment, EvaluationSet.name).outerjoin(EvaluationSet, EvaluationSet.id == Experiment.set_id)
                 .order_by(Experiment.created_at.desc(), Experiment.id.desc()))
        if kind:
            query = query.where(Experiment.kind == kind)
        return [_experiment_info(row, set_name) for row, set_name in s.execute(query)]


def get_experiment(experiment_id: int, url: str | None = None) -> ExperimentInfo:
    with session_scope(url) as s:
        row = s.get(Experiment, experiment_id)
        if row is None:
            raise UserError(f"There is no experiment {experiment_id}.")
        set_name = s.scalar(select(EvaluationSet.name).where(EvaluationSet.id == row.set_id)) if row.set_id else None
        return _experiment_info(row, set_name)


def delete_experiment(experiment_id: int, url: str | None = None) -> None:
    with session_scope(url) as s:
        s.execute(delete(Experiment).where(Experiment.id == experiment_id))
