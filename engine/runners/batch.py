"""Batch jobs: work over many items (recordings, utterances, meetings), cut into shards that run anywhere.

A batch kind is a class named in BATCH_KINDS:

    class SomeBatch:
        @staticmethod
        def keys(params) -> list[str]          # the items, checked on the submitting side (UserError)
        def __init__(self, params)             # once per worker process
        def warm_up(self)                      # optional: load the models before the first shard
        def run(self, key) -> ItemResult       # one item
        @staticmethod
        def finish(params, items) -> dict      # once all shards are done: the job's result (e.g. import a set)

`run_shard` is the one way a shard runs, on a Ray actor or in this process: it records the attempt, runs
the items and writes their rows in one transaction (engine.persistence.batches), so a shard cut short
by a killed worker leaves nothing and its retry leaves its rows once.
"""

from __future__ import annotations

import importlib
import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine import persistence
from engine.errors import UserError
from engine.persistence import batches

# kind -> "module:Class"; the classes are imported where they run (workers load models, submitters do not).
BATCH_KINDS: dict[str, str] = {
    "batch_transcribe": "engine.runners.kinds:TranscribeManifest",
    "batch_fairness": "engine.runners.kinds:FairnessManifest",
    "batch_evaluate": "engine.runners.kinds:EvaluateSet",
}
DEFAULT_SHARD_SIZE = 4
MAX_KEY_CHARS = 512  # batch_items.item_key


def check_batch_kind(kind: str) -> str:
    if kind not in BATCH_KINDS:
        raise UserError(f"There is no batch job of kind '{kind}'.")
    return BATCH_KINDS[kind]


def resolve(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def plan_shards(keys: list[str], shard_size: int) -> list[list[str]]:
    if shard_size < 1:
        raise UserError("The shard size must be at least 1.")
    if not keys:
        raise UserError("The batch has no items.")
    too_long = next((k for k in keys if len(k) > MAX_KEY_CHARS), None)
    if too_long is not None:
        raise UserError(f"The item name {too_long[:60]!r}… is longer than {MAX_KEY_CHARS} characters.")
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise UserError(f"The item {key!r} appears twice in the batch.")
        seen.add(key)
    return [keys[i : i + shard_size] for i in range(0, len(keys), shard_size)]


def enqueue(session: Session, kind: str, params: dict[str, Any]) -> int:
    """Check the batch (a bad manifest is one sentence here, before any job exists) and queue it in the
    caller's unit of work."""
    batch = resolve(check_batch_kind(kind))
    shards = plan_shards(batch.keys(params), int(params.get("shard_size") or DEFAULT_SHARD_SIZE))
    return batches.enqueue_batch(session, kind, params, shards)


@dataclass(frozen=True)
class ShardReport:
    shard: int
    attempt: int
    items: int
    audio_s: float
    work_s: float  # the items' own work, measured where they ran
    write_s: float  # writing the shard's rows
    cpu_s: float = 0.0  # CPU time the worker process got for the items (below work_s when the CPU is shared)
    error: str | None = None
    retryable: bool = False  # a crash may pass on a rerun; bad input (UserError) will not


def crash_message(exc: Exception) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"A shard crashed ({type(exc).__name__}{': ' + detail[:160] if detail else ''})."


def run_shard(work, job_id: int, shard: int, keys: list[str]) -> ShardReport:
    attempt = persistence.transact(batches.start_shard, job_id, shard, socket.gethostname(), os.getpid())
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        results = [work.run(key) for key in keys]
    except UserError as exc:
        persistence.transact(batches.fail_shard, job_id, shard, str(exc))
        return ShardReport(shard, attempt, len(keys), 0.0, time.perf_counter() - started, 0.0, str(exc))
    except Exception as exc:
        traceback.print_exc()
        persistence.transact(batches.fail_shard, job_id, shard, crash_message(exc))
        return ShardReport(
            shard, attempt, len(keys), 0.0, time.perf_counter() - started, 0.0, crash_message(exc), retryable=True
        )
    worked, cpu_s = time.perf_counter(), time.process_time() - cpu_started
    persistence.transact(batches.save_shard, job_id, shard, results)
    return ShardReport(
        shard,
        attempt,
        len(keys),
        sum(r.audio_s for r in results),
        worked - started,
        time.perf_counter() - worked,
        cpu_s=cpu_s,
    )


def progress_message(job_id: int) -> tuple[float, str]:
    p = batches.batch_progress(job_id)
    return (
        p.items_done / p.items if p.items else 1.0,
        f"{p.items_done} of {p.items} items ({p.shards_done} of {p.shards} shards, "
        f"{p.audio_s_done / 60:.1f} min of audio)",
    )


def finish(job_id: int, kind_target: str, params: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """The kind's result over all item rows, with the batch's own counts beside it."""
    result = resolve(kind_target).finish(params, batches.batch_items(job_id))
    shards = batches.list_shards(job_id)
    return {
        **result,
        "batch": {
            **stats,
            "shards": len(shards),
            "items": sum(len(s.items) for s in shards),
            "audio_s": sum(s.audio_s for s in shards),
            "work_s": sum(s.compute_s for s in shards),
            "retried_shards": sum(s.attempts > 1 for s in shards),
        },
    }


def run_here(job_id: int, progress=None) -> dict[str, Any] | None:
    """Run a claimed batch job's pending shards one after another in this process (no Ray); the job ends
    done, failed or cancelled like any other. Returns the result when done."""
    job = persistence.get_job(job_id)
    target = check_batch_kind(job.kind)
    started = time.perf_counter()
    try:
        work = resolve(target)(job.params)
        for shard in batches.list_shards(job_id):
            if shard.status == "done":
                continue
            report = run_shard(work, job_id, shard.shard, shard.items)
            if report.error:
                raise UserError(report.error)
            fraction, message = progress_message(job_id)
            if persistence.transact(persistence.heartbeat, job_id, fraction, message) != "running":
                persistence.transact(persistence.mark_cancelled, job_id)
                return None
            if progress:
                progress(fraction, message)
        result = finish(job_id, target, job.params, {"workers": 1, "wall_s": time.perf_counter() - started})
    except UserError as exc:
        persistence.transact(persistence.fail_job, job_id, str(exc))
        raise
    except BaseException as exc:
        persistence.transact(
            persistence.fail_job,
            job_id,
            crash_message(exc) if isinstance(exc, Exception) else "The batch was stopped before it finished.",
        )
        raise
    persistence.transact(persistence.finish_job, job_id, result)
    return result
