"""Background jobs: the `JobRunner` interface the pages use, the handler registry, and the local runner.

    runner = get_runner()
    with persistence.session_scope() as s:        # the user action's unit of work
        job_id = runner.enqueue(s, "transcribe", {"run_id": 7})   # the job row, beside the action's other rows
    runner.start(job_id)    # once committed: get it going (a job that is the whole action: runner.submit(kind, params))
    runner.status(job_id)   # JobInfo: status queued|running|cancelling|done|failed|cancelled, progress, message, error
    runner.cancel(job_id)
    runner.result(job_id)   # the handler's result dict once done
    runner.warm_up()        # a page that may submit soon: get ready (cheap when ready already)

Pages only see this interface, so a distributed runner (Ray) can replace `LocalJobRunner` by implementing
the same methods. The local runner keeps all state in the `jobs` table and starts one detached
worker process per data directory (`python -m engine worker`) on demand; the worker outlives page
reloads and navigation, and exits by itself after a while without work.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import socket
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine import config, persistence
from engine.errors import UserError
from engine.persistence import JobInfo

# kind -> "module:function". The function takes (params, progress) and returns a JSON-able result dict;
# progress is callable(fraction, message). Handlers are imported lazily, in the worker only, so the
# app never imports heavy model code to submit a job. A handler's module may define `warm_up()`: the worker
# calls it as it starts, so the first job does not wait for imports and model loading. One line per kind.
HANDLERS: dict[str, str] = {
    "transcribe": "engine.transcribe_job:handle",
}

Progress = Callable[[float, str], None]
Handler = Callable[[dict[str, Any], Progress], dict[str, Any]]

HEARTBEAT_S = 2.0  # how often a worker says it is alive while running a job
STALE_AFTER_S = 60.0  # a job whose worker we cannot check by pid is failed after this long without a heartbeat
WORKER_IDLE_EXIT_S = float(os.environ.get("CROSSTALK_WORKER_IDLE_S", "600"))
WORKER_START_TIMEOUT_S = 60.0


def check_kind(kind: str) -> None:
    if kind not in HANDLERS:
        raise UserError(f"There is no job of kind '{kind}'.")


def resolve_handler(kind: str) -> Handler:
    check_kind(kind)
    module, function = HANDLERS[kind].split(":")
    return getattr(importlib.import_module(module), function)


def warm_up_handlers() -> None:
    """Import every handler's module and run its `warm_up()`, if it has one (in the worker, before any job)."""
    for target in HANDLERS.values():
        warm_up = getattr(importlib.import_module(target.split(":")[0]), "warm_up", None)
        if warm_up is not None:
            warm_up()


class JobRunner(ABC):
    @abstractmethod
    def enqueue(self, session: Session, kind: str, params: dict[str, Any]) -> int:
        """Write the queued job (a batch: with its shards) in the caller's unit of work; returns its id.

        Checks the kind and its parameters (UserError) first; nothing runs before the session commits."""

    @abstractmethod
    def start(self, job_id: int) -> None:
        """Get a committed queued job going (the local worker, a Ray actor)."""

    def submit(self, kind: str, params: dict[str, Any]) -> int:
        """A job that is a user action by itself: queued in its own transaction, then started."""
        with persistence.session_scope() as s:
            job_id = self.enqueue(s, kind, params)
        self.start(job_id)
        return job_id

    @abstractmethod
    def status(self, job_id: int) -> JobInfo | None: ...

    def cancel(self, job_id: int) -> JobInfo | None:
        with persistence.session_scope() as s:
            return persistence.request_cancel(s, job_id)

    def result(self, job_id: int) -> dict[str, Any] | None:
        job = persistence.get_job(job_id)
        return job.result if job is not None and job.status == "done" else None

    @abstractmethod
    def warm_up(self) -> None:
        """Get ready to run a job soon (the page a person may submit from calls it on every run)."""


# --- the worker process of one data directory ----------------------------------------------------


def worker_lock_path(data_dir: Path | None = None) -> Path:
    return (data_dir or config.data_dir()) / "worker.lock"


def worker_log_path(data_dir: Path | None = None) -> Path:
    return (data_dir or config.data_dir()) / "worker.log"


def hold_worker_lock(data_dir: Path | None = None):
    """The open lock file if this process now holds the data dir's worker lock, else None.

    The kernel drops an flock when its holder dies, so a lock is never left behind by a killed worker.
    """
    handle = open(worker_lock_path(data_dir), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def running_worker_pid(data_dir: Path | None = None) -> int | None:
    """The pid of the live worker of this data dir, or None when there is none."""
    path = worker_lock_path(data_dir)
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else None
        return None  # we got the lock: nobody holds it


def pid_alive(host: str | None, pid: int | None) -> bool | None:
    """True/False for a process on this host (zombies count as dead); None when it is on another host."""
    if pid is None:
        return False
    if host is not None and host != socket.gethostname():
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_starting_path(data_dir: Path | None = None) -> Path:
    return (data_dir or config.data_dir()) / "worker.starting"


def start_worker(data_dir: Path | None = None) -> None:
    """Start a detached worker for this data dir unless one is running or starting; returns at once.

    Importing the engine takes seconds, so the page does not wait for it: a marker file says a start is
    under way (the worker removes it once it holds the lock; a start that failed is retried after
    WORKER_START_TIMEOUT_S). Two racing starters are harmless: the loser of the lock exits at once.
    """
    data_dir = data_dir or config.data_dir()
    marker = worker_starting_path(data_dir)
    if running_worker_pid(data_dir) is not None:
        return
    if marker.exists() and time.time() - marker.stat().st_mtime < WORKER_START_TIMEOUT_S:
        return
    marker.write_text(str(os.getpid()))
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data_dir), "CROSSTALK_DATABASE_URL": config.database_url()}
    with open(worker_log_path(data_dir), "ab") as log:
        # --daemon double-forks: the worker is re-parented away from the app and survives its reruns.
        launcher = subprocess.Popen(
            [sys.executable, "-m", "engine", "worker", "--daemon"],
            cwd=config.REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    threading.Thread(target=launcher.wait, daemon=True).start()  # reap the launcher when it has forked


def stop_worker(data_dir: Path | None = None, timeout_s: float = 10.0) -> None:
    """Ask this data dir's worker to stop (SIGTERM) and wait for it to be gone."""
    pid = running_worker_pid(data_dir)
    if pid is None:
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while running_worker_pid(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)


def fail_orphaned_jobs() -> list[int]:
    with persistence.session_scope() as s:
        return persistence.fail_orphaned_jobs(s, pid_alive, STALE_AFTER_S)


class LocalJobRunner(JobRunner):
    """Jobs in the database, run by one detached worker process per data directory."""

    def __init__(self, data_dir: Path | None = None):
        self.data_dir = data_dir or config.data_dir()

    def enqueue(self, session: Session, kind: str, params: dict[str, Any]) -> int:
        check_kind(kind)
        return persistence.enqueue_job(session, kind, params)

    def start(self, job_id: int) -> None:
        start_worker(self.data_dir)

    def status(self, job_id: int) -> JobInfo | None:
        fail_orphaned_jobs()
        job = persistence.get_job(job_id)
        if job is not None and job.status == "queued":
            start_worker(self.data_dir)  # the worker may have exited when idle, or been killed
        return job

    def warm_up(self) -> None:
        # A worker started while the person picks a file has loaded its models by the time they submit.
        # CROSSTALK_WORKER_PRESTART=0 (the page tests) starts one only for a submitted job.
        if os.environ.get("CROSSTALK_WORKER_PRESTART", "1") != "0":
            start_worker(self.data_dir)


def get_runner() -> JobRunner:
    """The runner CROSSTALK_JOB_RUNNER names: local (default, no Ray needed) or ray (engine.runners.ray_runner)."""
    name = config.job_runner()
    if name == "ray":
        from engine.runners.ray_runner import RayJobRunner

        return RayJobRunner()
    return LocalJobRunner()
