"""Recordings: content-addressed uploads; audio stored before its row, nothing left behind on failure.

Storing and deleting a recording each move an audio file beside its rows, so each is a whole unit of work
that opens its own session (the file follows the commit); the rest read, with an optional url.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from db.models import Job, Recording, RunSpeaker, TranscriptionRun, TurnRow, utcnow
from engine import audio, config
from engine.errors import UserError
from engine.persistence.records import RecordingInfo, _recording_info
from engine.persistence.scope import session_scope
from engine.storage import AudioStore, default_store, sha256_of_file


def add_recording(
    src: Path, filename: str, *, is_demo: bool = False, store: AudioStore | None = None, url: str | None = None
) -> RecordingInfo:
    """Check, probe and store an uploaded file; return its recording (the existing one for known bytes).

    One unit of work: the audio goes into the store, then its row commits; any failure takes away the file
    this call stored. Raises UserError (one sentence) for bad input; nothing is stored then.
    """
    src = Path(src)
    store = store or default_store()
    audio.check_size(src.stat().st_size)
    info = audio.probe(src)
    sha = sha256_of_file(src)
    suffix = Path(filename).suffix.lower()
    file_was_there = store.exists(sha)
    stored: str | None = None  # the file this call put into the store, taken away again on failure
    try:
        with session_scope(url) as s:
            existing = s.scalar(select(Recording).where(Recording.sha256 == sha))
            if existing is not None:
                if not file_was_there:  # the row survived a lost file: restore the audio from this upload
                    store.put_file(src, suffix)
                return _recording_info(existing)
            stored = store.put_file(src, suffix)
            if stored != sha:
                raise RuntimeError(f"audio store returned {stored} for content {sha}")
            row = Recording(
                sha256=sha,
                filename=Path(filename).name[:512],
                size_bytes=src.stat().st_size,
                duration_s=info.duration_s,
                source_sample_rate=info.sample_rate,
                source_channels=info.channels,
                is_demo=is_demo,
            )
            s.add(row)
            s.flush()
            return _recording_info(row)
    except IntegrityError:
        # Another process stored the same bytes a moment ago: theirs is our recording too.
        theirs = find_recording_by_sha(sha, url)
        if theirs is not None:
            return theirs
        if stored and not file_was_there:
            store.delete(stored)
        raise
    except BaseException:
        if stored and not file_was_there:
            store.delete(stored)
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
        rows = s.scalars(
            select(Recording).order_by(Recording.is_demo, Recording.created_at.desc(), Recording.id.desc())
        )
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

    One unit of work: the rows go first, in one transaction (if that fails nothing changed), then the file.
    Its jobs stay as history but lose their references to the deleted rows; a queued one is cancelled, a
    running one asked to stop.
    """
    store = store or default_store()
    with session_scope(url) as s:
        row = s.get(Recording, recording_id)
        if row is None:
            return
        sha = row.sha256
        run_ids = select(TranscriptionRun.id).where(TranscriptionRun.recording_id == recording_id)
        for job in s.scalars(
            select(Job).where(
                Job.id.in_(select(TranscriptionRun.job_id).where(TranscriptionRun.recording_id == recording_id))
            )
        ):
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
