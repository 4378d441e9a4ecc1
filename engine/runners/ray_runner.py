"""The Ray job runner: the JobRunner interface of engine.jobs, with the work on a Ray cluster.

    CROSSTALK_JOB_RUNNER=ray CROSSTALK_RAY_ADDRESS=auto   # `ray start --head` on this machine, or host:port

Every job is owned by a detached actor named after it, so it lives on when the process that submitted it
(a page, the CLI) goes away. A batch job's actor is a coordinator: it starts one ShardWorker actor per
worker (each builds its backend once), hands them shards as they become free, and writes the job's
progress after every shard. A worker that dies mid-shard is restarted by Ray and its shard rerun
(max_task_retries); the shard's rows are written in one delete-then-insert transaction, so nothing is
lost or doubled. Any other job kind (a page's "transcribe") runs whole on one actor, exactly as the local
worker would run it. State lives in the database as for the local runner: status() needs no Ray
connection, so every app instance on the same database shows every job, and cancel() is a row update
that the coordinator sees within POLL_S and answers by killing its workers.

Without CROSSTALK_RAY_ADDRESS, ray.init() starts a private Ray in this process (it ends with it).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

# `ray start` (like a private ray.init) turns token authentication on, but a client joining a cluster
# only sends its token (~/.ray/auth_token or RAY_AUTH_TOKEN) in token mode, read when ray is first imported
# (so import this module before ray, or set RAY_AUTH_MODE yourself).
os.environ.setdefault("RAY_AUTH_MODE", "token")
import ray  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from engine import config, persistence  # noqa: E402
from engine.errors import UserError  # noqa: E402
from engine.jobs import HANDLERS, JobRunner, check_kind, fail_orphaned_jobs  # noqa: E402
from engine.persistence import JobInfo, batches  # noqa: E402
from engine.runners import batch  # noqa: E402

NAMESPACE = "crosstalk"
POLL_S = 0.5  # how often a coordinator looks for finished shards and for a cancel
MAX_SHARD_ATTEMPTS = 3  # a shard's first run and two retries (a killed worker, a crash)


def ray_address() -> str | None:
    return os.environ.get("CROSSTALK_RAY_ADDRESS") or None


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or start a private one) once per process."""
    if ray.is_initialized():
        return
    if address is None and threading.current_thread() is not threading.main_thread():
        # A page's script thread (Streamlit) can join a cluster but not start a private one.
        raise UserError(
            "The Ray job runner needs CROSSTALK_RAY_ADDRESS here (a cluster started with "
            "`ray start --head`; see docs/team.md)."
        )
    # Workers import the engine from this checkout (on other machines: the same path, see docs/team.md).
    python_path = os.pathsep.join(p for p in (str(config.REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    options: dict[str, Any] = {
        "namespace": NAMESPACE,
        "logging_level": "warning",
        "runtime_env": {"env_vars": {"PYTHONPATH": python_path}},
    }
    if address is None:
        options |= {"include_dashboard": False, "num_cpus": len(os.sched_getaffinity(0))}
        # Ray's memory monitor kills workers when the whole machine is short of memory, whoever uses it;
        # on a shared machine that is other people's processes. The kernel's OOM killer still guards it.
        os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    try:
        ray.init(address=address, **options)
    except ConnectionError as exc:
        raise UserError(f"No Ray cluster answers at {address} (start one with `ray start --head`).") from exc


def _environment() -> dict[str, str]:
    """What a job's actors need to find the same database and storage as the submitter."""
    env = {"CROSSTALK_DATABASE_URL": config.database_url(), "CROSSTALK_DATA_DIR": str(config.data_dir())}
    if os.environ.get("CROSSTALK_SHARED_DATA"):
        env["CROSSTALK_SHARED_DATA"] = os.environ["CROSSTALK_SHARED_DATA"]
    return env


@ray.remote(num_cpus=1, max_restarts=MAX_SHARD_ATTEMPTS - 1, max_task_retries=MAX_SHARD_ATTEMPTS - 1)
class ShardWorker:
    """One worker process of a batch: builds the kind's work (its backend, its model) once, runs shards."""

    def __init__(self, kind_target: str, params: dict[str, Any], env: dict[str, str]):
        os.environ.update(env)
        self.work = batch.resolve(kind_target)(params)
        if hasattr(self.work, "warm_up"):
            self.work.warm_up()

    def pid(self) -> int:
        return os.getpid()

    def run(self, job_id: int, shard: int, keys: list[str]) -> batch.ShardReport:
        return batch.run_shard(self.work, job_id, shard, keys)


@ray.remote(num_cpus=0, max_restarts=0)
class BatchCoordinator:
    def __init__(self, env: dict[str, str]):
        os.environ.update(env)
        self.env = env

    def run(self, job_id: int, kind_target: str, workers: int) -> None:
        try:
            with persistence.session_scope() as s:
                job = persistence.claim_job(s, job_id)
            if job is not None:  # None: cancelled before it started, or taken by another runner
                coordinate(job, kind_target, workers, self.env)
        finally:
            ray.actor.exit_actor()


@ray.remote(num_cpus=1, max_restarts=0)
class SingleJob:
    """A job that is not a batch, run whole on one actor by the local worker's own code."""

    def __init__(self, env: dict[str, str]):
        os.environ.update(env)

    def run(self, job_id: int, kind: str, handler: str) -> None:
        from engine.jobs import HANDLERS
        from engine.worker import run_job

        HANDLERS.setdefault(kind, handler)  # the submitter's registry names the handler
        try:
            with persistence.session_scope() as s:
                job = persistence.claim_job(s, job_id)
            if job is not None:
                run_job(job)
        finally:
            ray.actor.exit_actor()


def coordinate(job: JobInfo, kind_target: str, workers: int, env: dict[str, str]) -> None:
    """Run the job's unfinished shards on `workers` ShardWorkers and end the job (done, failed, cancelled)."""
    shards = deque(s for s in batches.list_shards(job.id) if s.status != "done")
    started = time.perf_counter()
    actors = [ShardWorker.remote(kind_target, job.params, env) for _ in range(max(1, min(workers, len(shards))))]
    try:
        starting = [a.pid.remote() for a in actors]
        while starting:  # workers load their models; meanwhile stay alive and cancellable
            _, starting = ray.wait(starting, num_returns=len(starting), timeout=POLL_S)
            if persistence.transact(persistence.heartbeat, job.id) != "running":
                persistence.transact(persistence.mark_cancelled, job.id)
                return
        ray.get([a.pid.remote() for a in actors])  # a worker that failed to start raises here
        ready_at = time.perf_counter()
        persistence.transact(persistence.heartbeat, job.id, 0.0, f"{len(actors)} workers started")
        idle, running, rounds = list(actors), {}, []
        while shards or running:
            while idle and shards:
                shard, actor = shards.popleft(), idle.pop()
                running[actor.run.remote(job.id, shard.shard, shard.items)] = (actor, shard, time.perf_counter())
            finished, _ = ray.wait(list(running), num_returns=len(running), timeout=POLL_S)
            for ref in finished:
                actor, shard, sent = running.pop(ref)
                report: batch.ShardReport = ray.get(ref)  # raises once Ray has given up on a dying worker
                idle.append(actor)
                if report.error:
                    if not report.retryable or report.attempt >= MAX_SHARD_ATTEMPTS:
                        raise UserError(report.error)
                    shards.append(shard)
                    continue
                rounds.append((time.perf_counter() - sent, report.work_s, report.write_s, report.cpu_s))
            progress = batch.progress_message(job.id) if finished else (None, None)
            if persistence.transact(persistence.heartbeat, job.id, *progress) != "running":
                persistence.transact(persistence.mark_cancelled, job.id)
                return
        stats = {
            "workers": len(actors),
            "startup_s": ready_at - started,
            "wall_s": time.perf_counter() - ready_at,
            **round_stats(rounds),
        }
        persistence.transact(persistence.finish_job, job.id, batch.finish(job.id, kind_target, job.params, stats))
    except UserError as exc:
        persistence.transact(persistence.fail_job, job.id, str(exc))
    except Exception as exc:
        persistence.transact(persistence.fail_job, job.id, batch.crash_message(exc))
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)


def round_stats(rounds: list[tuple[float, float, float, float]]) -> dict[str, float]:
    """Per shard (means): its work, row writing and CPU time (measured on the worker) and what Ray added
    around them (dispatch, result transfer, the coordinator's turn). A retried shard's round is its last."""
    if not rounds:
        return {}
    n = len(rounds)
    work = sum(r[1] for r in rounds) / n
    overhead = sum(r[0] - r[1] - r[2] for r in rounds) / n
    return {
        "shard_work_s": work,
        "shard_write_s": sum(r[2] for r in rounds) / n,
        "shard_cpu_s": sum(r[3] for r in rounds) / n,
        "shard_ray_overhead_s": overhead,
        "ray_overhead_pct": 100 * overhead / work if work else None,
    }


class RayJobRunner(JobRunner):
    """JobRunner on Ray: start() starts the job's detached actor; status/cancel/result read the database."""

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.address = address or ray_address()
        self.workers = workers

    def enqueue(self, session: Session, kind: str, params: dict[str, Any]) -> int:
        if kind in batch.BATCH_KINDS:
            return batch.enqueue(session, kind, params)  # a bad manifest fails here, before Ray is involved
        check_kind(kind)
        return persistence.enqueue_job(session, kind, params)

    def start(self, job_id: int) -> None:
        kind = persistence.get_job(job_id).kind
        try:
            connect(self.address)
            options = {"name": f"job-{job_id}", "lifetime": "detached"}
            if kind in batch.BATCH_KINDS:
                workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
                BatchCoordinator.options(**options).remote(_environment()).run.remote(
                    job_id, batch.BATCH_KINDS[kind], workers
                )
            else:
                SingleJob.options(**options).remote(_environment()).run.remote(job_id, kind, HANDLERS[kind])
        except BaseException as exc:
            error = str(exc) if isinstance(exc, UserError) else "Ray could not start this job."
            persistence.transact(persistence.fail_job, job_id, error)
            raise

    def status(self, job_id: int) -> JobInfo | None:
        # A coordinator on this host is checked by pid, one elsewhere by its heartbeat.
        fail_orphaned_jobs()
        return persistence.get_job(job_id)

    def warm_up(self) -> None:
        """Nothing to get ready: each job starts its own actors (and loads its models) on the cluster."""
