"""Jobs: the state the job runner keeps in the database (claimed atomically, mirrored into their runs).

Every state change takes the caller's Session: queueing a job is part of the user action that needs it
(a transcription's run and its job commit together), and each worker report is its own unit of work.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Job, TranscriptionRun, utcnow
from engine.persistence.records import FINAL_JOB_STATES, JobInfo, _job_info
from engine.persistence.scope import session_scope


def enqueue_job(s: Session, kind: str, params: dict[str, Any]) -> int:
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


def _set_job_state(s: Session, job_id: int, status: str, **values) -> None:
    # A job that already ended keeps its end (a late report from its worker changes nothing).
    s.execute(update(Job).where(Job.id == job_id, Job.status.not_in(FINAL_JOB_STATES)).values(status=status, **values))
    # A transcription run mirrors the state of the job that produces it.
    run_status = {"running": "running", "cancelling": "running"}.get(status, status)
    s.execute(update(TranscriptionRun).where(TranscriptionRun.job_id == job_id).values(status=run_status))


def claim_next_job(s: Session, kinds: Iterable[str]) -> JobInfo | None:
    """Atomically take the oldest queued job of one of `kinds` for this process, or None.

    Compare-and-set on the status (UPDATE ... WHERE status='queued') makes this safe for any number of
    workers on SQLite or PostgreSQL: exactly one UPDATE matches; a loser looks again.
    """
    kinds = list(kinds)
    while True:
        job_id = s.scalar(select(Job.id).where(Job.status == "queued", Job.kind.in_(kinds)).order_by(Job.id).limit(1))
        if job_id is None:
            return None
        if _claim(s, job_id):
            return _job_info(s.get(Job, job_id))


def claim_job(s: Session, job_id: int) -> JobInfo | None:
    """Take this one queued job for this process (a Ray actor that was started for it), or None when
    another runner took it first or it was cancelled meanwhile."""
    return _job_info(s.get(Job, job_id)) if _claim(s, job_id) else None


def _claim(s: Session, job_id: int) -> bool:
    now = utcnow()
    claimed = (
        s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(
                status="running",
                worker_pid=os.getpid(),
                worker_host=socket.gethostname(),
                started_at=now,
                heartbeat_at=now,
                progress=0.0,
                message="Starting…",
            )
        ).rowcount
        == 1
    )
    if claimed:
        s.execute(update(TranscriptionRun).where(TranscriptionRun.job_id == job_id).values(status="running"))
    return claimed


def heartbeat(s: Session, job_id: int, progress: float | None = None, message: str | None = None) -> str | None:
    """Record that the worker is alive (and its progress); return the job's status, None if it was deleted.

    The worker stops the job when this says "cancelling" or None.
    """
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if message is not None:
        values["message"] = message[:1000]
    s.execute(update(Job).where(Job.id == job_id, Job.status.in_(("running", "cancelling"))).values(**values))
    return s.scalar(select(Job.status).where(Job.id == job_id))


def finish_job(s: Session, job_id: int, result: dict[str, Any] | None) -> None:
    _set_job_state(s, job_id, "done", progress=1.0, message="Done.", result=result, finished_at=utcnow())


def fail_job(s: Session, job_id: int, error: str) -> None:
    _set_job_state(s, job_id, "failed", error=error[:2000], message="Failed.", finished_at=utcnow())


def mark_cancelled(s: Session, job_id: int) -> None:
    _set_job_state(s, job_id, "cancelled", message="Cancelled.", finished_at=utcnow())


def request_cancel(s: Session, job_id: int) -> JobInfo | None:
    """A queued job is cancelled at once; a running one is asked to stop (its worker finishes the cancel)."""
    row = s.get(Job, job_id)
    if row is None:
        return None
    if row.status == "queued":
        _set_job_state(s, job_id, "cancelled", message="Cancelled.", finished_at=utcnow())
    elif row.status == "running":
        _set_job_state(s, job_id, "cancelling", message="Cancelling…")
    s.refresh(row)
    return _job_info(row)


def fail_orphaned_jobs(
    s: Session, is_alive: Callable[[str | None, int | None], bool | None], stale_after_s: float
) -> list[int]:
    """Mark running jobs whose worker is gone as failed (cancelling ones as cancelled); return their ids.

    `is_alive(host, pid)` answers True/False when it can tell (same host), None when it cannot; then a
    heartbeat older than `stale_after_s` decides.
    """
    stale_before = utcnow() - timedelta(seconds=stale_after_s)
    orphaned = []
    for job in [_job_info(r) for r in s.scalars(select(Job).where(Job.status.in_(("running", "cancelling"))))]:
        alive = is_alive(job.worker_host, job.worker_pid)
        if alive is False or (alive is None and (job.heartbeat_at is None or job.heartbeat_at < stale_before)):
            # Re-check inside the write: the worker may have finished the job meanwhile.
            if s.scalar(select(Job.status).where(Job.id == job.id)) not in ("running", "cancelling"):
                continue
            if job.status == "cancelling":
                _set_job_state(s, job.id, "cancelled", message="Cancelled.", finished_at=utcnow())
            else:
                _set_job_state(
                    s,
                    job.id,
                    "failed",
                    message="Failed.",
                    finished_at=utcnow(),
                    error="The worker process stopped before this job finished.",
                )
            orphaned.append(job.id)
    return orphaned
