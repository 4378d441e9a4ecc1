"""Batch jobs: their shards and one result row per item, written so that a retried shard never duplicates.

A shard's results are written in one transaction that first deletes whatever that shard wrote before and
marks the shard done, and (job, item) is unique in the schema: a shard that a killed worker left half-way
wrote nothing, and a shard that runs twice (a retry after its first result was written) ends with its rows
once. Writers take the caller's Session (its unit of work commits them); readers take an optional url.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from db.models import BatchItem, BatchShard, utcnow
from engine.persistence.jobs import enqueue_job
from engine.persistence.scope import session_scope


@dataclass(frozen=True)
class ItemResult:
    key: str
    audio_s: float
    compute_s: float
    result: dict[str, Any]


@dataclass(frozen=True)
class ShardInfo:
    shard: int
    items: list[str]
    status: str
    attempts: int
    worker_host: str | None
    worker_pid: int | None
    audio_s: float
    compute_s: float
    error: str | None


@dataclass(frozen=True)
class BatchProgress:
    shards_done: int
    shards: int
    items_done: int
    items: int
    audio_s_done: float


def enqueue_batch(s: Session, kind: str, params: dict[str, Any], shards: Sequence[Sequence[str]]) -> int:
    """A queued job and its pending shards (lists of item keys); returns the job id."""
    job_id = enqueue_job(s, kind, params)
    s.add_all(
        BatchShard(job_id=job_id, shard=i, items=list(keys), n_items=len(keys), status="pending")
        for i, keys in enumerate(shards)
    )
    s.flush()
    return job_id


def _shard_info(row: BatchShard) -> ShardInfo:
    return ShardInfo(
        row.shard,
        list(row.items),
        row.status,
        row.attempts,
        row.worker_host,
        row.worker_pid,
        row.audio_s,
        row.compute_s,
        row.error,
    )


def list_shards(job_id: int, url: str | None = None) -> list[ShardInfo]:
    with session_scope(url) as s:
        rows = s.scalars(select(BatchShard).where(BatchShard.job_id == job_id).order_by(BatchShard.shard))
        return [_shard_info(r) for r in rows]


def start_shard(s: Session, job_id: int, shard: int, host: str, pid: int) -> int:
    """Record that a worker (host, pid) starts the shard; returns which attempt this is (1 = the first)."""
    s.execute(
        update(BatchShard)
        .where(BatchShard.job_id == job_id, BatchShard.shard == shard)
        .values(
            status="running",
            attempts=BatchShard.attempts + 1,
            worker_host=host,
            worker_pid=pid,
            started_at=utcnow(),
            error=None,
        )
    )
    return s.scalar(select(BatchShard.attempts).where(BatchShard.job_id == job_id, BatchShard.shard == shard))


def save_shard(s: Session, job_id: int, shard: int, results: Sequence[ItemResult]) -> None:
    """Replace the shard's item rows with `results` and mark it done."""
    s.execute(delete(BatchItem).where(BatchItem.job_id == job_id, BatchItem.shard == shard))
    s.add_all(
        BatchItem(
            job_id=job_id,
            shard=shard,
            item_key=r.key,
            audio_s=float(r.audio_s),
            compute_s=float(r.compute_s),
            result=r.result,
        )
        for r in results
    )
    s.execute(
        update(BatchShard)
        .where(BatchShard.job_id == job_id, BatchShard.shard == shard)
        .values(
            status="done",
            audio_s=sum(r.audio_s for r in results),
            compute_s=sum(r.compute_s for r in results),
            finished_at=utcnow(),
        )
    )


def fail_shard(s: Session, job_id: int, shard: int, error: str) -> None:
    s.execute(
        update(BatchShard)
        .where(BatchShard.job_id == job_id, BatchShard.shard == shard)
        .values(status="failed", error=error[:2000], finished_at=utcnow())
    )


def batch_progress(job_id: int, url: str | None = None) -> BatchProgress:
    done = case((BatchShard.status == "done", 1), else_=0)
    with session_scope(url) as s:
        row = s.execute(
            select(
                func.count(),
                func.sum(done),
                func.sum(BatchShard.n_items),
                func.sum(done * BatchShard.n_items),
                func.sum(done * BatchShard.audio_s),
            ).where(BatchShard.job_id == job_id)
        ).one()
    shards, shards_done, items, items_done, audio_s_done = (v or 0 for v in row)
    return BatchProgress(int(shards_done), int(shards), int(items_done), int(items), float(audio_s_done))


def batch_items(job_id: int, url: str | None = None) -> list[ItemResult]:
    """The job's item results in shard order, each shard's items in the order it ran them."""
    with session_scope(url) as s:
        rows = s.scalars(select(BatchItem).where(BatchItem.job_id == job_id).order_by(BatchItem.shard, BatchItem.id))
        return [ItemResult(r.item_key, r.audio_s, r.compute_s, dict(r.result)) for r in rows]


def count_batch_items(job_id: int, url: str | None = None) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(BatchItem).where(BatchItem.job_id == job_id))
