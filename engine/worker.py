"""The local job worker: claims queued jobs from the database one at a time and runs their handlers.

Started on demand by the app (see engine.jobs.start_worker), or by hand:  python -m engine worker
Progress and failures go to the `jobs` table: a UserError is recorded as its one sentence, a crash as a
short message (the traceback goes to the worker log). A cancelled job stops at its next progress report;
one that does not report within CANCEL_GRACE_S is stopped by ending the worker (the app starts a new one).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

from engine import config, persistence
from engine.errors import UserError
from engine.jobs import (
    HANDLERS,
    HEARTBEAT_S,
    fail_orphaned_jobs,
    hold_worker_lock,
    resolve_handler,
    warm_up_handlers,
    worker_starting_path,
)
from engine.persistence import JobInfo

CANCEL_GRACE_S = 15.0
PROGRESS_WRITE_S = 0.25  # progress callbacks can be very frequent; write at most this often
ORPHAN_CHECK_S = 10.0


class JobCancelled(Exception):
    """Raised inside a handler (from its progress callback) when its job was cancelled or deleted."""


def daemonize() -> None:
    """Detach from the starting process (double fork + new session) so the worker outlives it."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)


def _stop_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(0)


def run_worker(idle_exit_s: float, poll_s: float = 0.5, warm_up: bool = True) -> int:
    """Run jobs until idle for `idle_exit_s`; return at once if this data dir already has a worker.

    `warm_up`: load the handlers' models before taking the first job (see engine.jobs.warm_up_handlers)."""
    lock = hold_worker_lock()
    if lock is None:
        return 0
    worker_starting_path().unlink(missing_ok=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.nice(5)  # the dashboard stays responsive while a job computes
    print(f"worker {os.getpid()} started for {config.data_dir()}", flush=True)
    fail_orphaned_jobs()
    try:
        if warm_up:
            warm_up_handlers()
    except Exception:  # a job would meet the same failure and record it; the worker itself stays up
        traceback.print_exc()
    print(f"worker {os.getpid()} ready", flush=True)
    idle_since = last_orphan_check = time.monotonic()
    while True:
        if time.monotonic() - last_orphan_check > ORPHAN_CHECK_S:
            fail_orphaned_jobs()
            last_orphan_check = time.monotonic()
        job = persistence.transact(persistence.claim_next_job, HANDLERS)
        if job is not None:
            run_job(job)
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > idle_exit_s or not config.data_dir().exists():
            print(f"worker {os.getpid()} idle, exiting", flush=True)
            return 0
        else:
            time.sleep(poll_s)


def run_job(job: JobInfo) -> None:
    status = {"value": "running", "changed_at": time.monotonic()}
    last_write = {"at": 0.0}

    def remember(value: str | None) -> None:
        if value != status["value"]:
            status["value"], status["changed_at"] = value, time.monotonic()

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last_write["at"] >= PROGRESS_WRITE_S or fraction >= 1.0:
            remember(persistence.transact(persistence.heartbeat, job.id, fraction, message))
            last_write["at"] = now
        if status["value"] != "running":
            raise JobCancelled()

    finished = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(job.id, remember, status, finished), daemon=True)
    beat.start()
    print(f"job {job.id} ({job.kind}) started", flush=True)
    try:
        result = resolve_handler(job.kind)(job.params, progress)
    except JobCancelled:
        persistence.transact(persistence.mark_cancelled, job.id)
        print(f"job {job.id} cancelled", flush=True)
    except UserError as exc:
        persistence.transact(persistence.fail_job, job.id, str(exc))
        print(f"job {job.id} failed: {exc}", flush=True)
    except Exception as exc:
        traceback.print_exc()
        persistence.transact(persistence.fail_job, job.id, crash_message(job.kind, exc))
    except BaseException:
        persistence.transact(persistence.fail_job, job.id, "The worker was stopped before this job finished.")
        raise
    else:
        persistence.transact(persistence.finish_job, job.id, result)
        print(f"job {job.id} done", flush=True)
    finally:
        finished.set()
        sys.stdout.flush()


def crash_message(kind: str, exc: Exception) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"The {kind} job crashed ({type(exc).__name__}{': ' + detail[:160] if detail else ''})."


def _heartbeat_loop(job_id: int, remember, status: dict, finished: threading.Event) -> None:
    """Say we are alive every HEARTBEAT_S; end the worker if a cancelled handler ignores the request."""
    while not finished.wait(HEARTBEAT_S):
        remember(persistence.transact(persistence.heartbeat, job_id))
        if status["value"] != "running" and time.monotonic() - status["changed_at"] > CANCEL_GRACE_S:
            if status["value"] == "cancelling":
                persistence.transact(persistence.mark_cancelled, job_id)
            print(f"job {job_id} did not stop when cancelled; ending the worker", flush=True)
            os._exit(3)
