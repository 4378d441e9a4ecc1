"""Plain frozen records handed to callers (never ORM objects) and the job states they refer to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from db.models import Job, Recording, TranscriptionRun

ACTIVE_JOB_STATES = ("queued", "running", "cancelling")
FINAL_JOB_STATES = ("done", "failed", "cancelled")


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
    return RecordingInfo(
        row.id,
        row.sha256,
        row.filename,
        row.size_bytes,
        row.duration_s,
        row.source_sample_rate,
        row.source_channels,
        row.is_demo,
        row.created_at,
    )


def _run_info(row: TranscriptionRun, n_turns: int) -> RunInfo:
    return RunInfo(
        row.id,
        row.recording_id,
        row.job_id,
        row.backend,
        dict(row.params or {}),
        row.status,
        row.rtf,
        n_turns,
        row.created_at,
        row.finished_at,
    )


def _job_info(row: Job) -> JobInfo:
    return JobInfo(
        row.id,
        row.kind,
        dict(row.params or {}),
        row.status,
        row.progress,
        row.message,
        row.error,
        row.result,
        row.worker_pid,
        row.worker_host,
        _aware(row.heartbeat_at),
        row.created_at,
        row.started_at,
        row.finished_at,
    )


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; everything we store is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment
