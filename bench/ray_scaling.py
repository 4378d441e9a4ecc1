"""nice -n 10 .venv/bin/python bench/ray_scaling.py \
    --database postgresql+psycopg://crosstalk:crosstalk@localhost:5432/crosstalk_bench --recordings 16

The same CPU-bound batch (the cascade over N LibriSpeech clips, one clip per shard) on a private Ray with
1 and then 2 workers, through the real RayJobRunner into PostgreSQL. Prints, per worker count:
throughput in audio hours per wall hour (steady state: from all workers ready, models loaded, to the last
shard written), the ratio to 1 worker, the per-shard work, row writing and Ray overhead (the time between
the coordinator sending a shard and receiving its report, less what the worker measured), and the load
average while it ran (other processes on the machine take CPU from the workers). Then rows/s into
PostgreSQL: shards of the batch's real result rows written by 1 and 2 processes at once, and the number
of workers at which those writes would saturate the database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

from engine import config
from engine.errors import UserError

WRITE_SHARDS = 300  # shards per writer process in the database benchmark


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--database",
        default=os.environ.get("CROSSTALK_DATABASE_URL"),
        help="a PostgreSQL URL (its tables are created if missing; jobs are added)",
    )
    p.add_argument("--recordings", type=int, default=16)
    p.add_argument("--shard-size", type=int, default=1)
    p.add_argument("--backend", default="cascade")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--write-shards", type=int, default=WRITE_SHARDS)
    p.add_argument("--write-rows", type=int, default=4, help="result rows per shard in the database benchmark")
    return p.parse_args()


def run_batch(manifest: Path, workers: int, args) -> dict:
    from engine.persistence import batches
    from engine.runners.ray_runner import RayJobRunner

    runner = RayJobRunner(workers=workers)
    load_before = os.getloadavg()[0]
    job_id = runner.submit(
        "batch_transcribe",
        {"manifest": str(manifest), "backend": args.backend, "num_speakers": 1, "shard_size": args.shard_size},
    )
    while (job := runner.status(job_id)).active:
        time.sleep(0.5)
    if job.status != "done":
        raise SystemExit(f"job {job_id} {job.status}: {job.error}")
    return {
        "job_id": job_id,
        **job.result["batch"],
        "load": (load_before + os.getloadavg()[0]) / 2,
        "rows": batches.count_batch_items(job_id),
    }


def _write_shards(url: str, job_id: int, first: int, count: int, rows, queue) -> None:
    os.environ["CROSSTALK_DATABASE_URL"] = url
    from engine import persistence
    from engine.persistence import batches

    started = time.perf_counter()
    for shard in range(first, first + count):  # one transaction per shard, as a worker writes them
        persistence.transact(
            batches.save_shard,
            job_id,
            shard,
            [r.__class__(f"{shard}:{r.key}", r.audio_s, r.compute_s, r.result) for r in rows],
        )
    queue.put(time.perf_counter() - started)


def rows_per_second(url: str, rows, writers: int, shards_each: int) -> float:
    from engine import persistence
    from engine.persistence import batches

    total = writers * shards_each
    shards = [[f"{s}:{r.key}" for r in rows] for s in range(total)]
    job_id = persistence.transact(batches.enqueue_batch, "batch_transcribe", {}, shards)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_write_shards, args=(url, job_id, w * shards_each, shards_each, rows, queue))
        for w in range(writers)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer process failed")
    # the wall time includes the writers' start-up; their own writing time is the fairer rate
    slowest = max(queue.get() for _ in procs)
    assert batches.count_batch_items(job_id) == total * len(rows)
    return total * len(rows) / slowest if slowest else float("nan"), wall


def main() -> int:
    args = parse_args()
    if not args.database or not args.database.startswith("postgresql"):
        print("error: give a PostgreSQL URL with --database (the rows/s part measures PostgreSQL)", file=sys.stderr)
        return 2
    os.environ["CROSSTALK_DATABASE_URL"] = args.database
    # Ray renices its workers by 15; keep them at this script's `nice -n 10`, like every heavy job here.
    os.environ.setdefault("RAY_worker_niceness", "0")
    from engine import persistence
    from engine.persistence import batches

    persistence.ensure_schema()
    clips = sorted((config.shared_data_dir() / "librispeech_excerpts" / "audio").glob("*/*.ogg"))[: args.recordings]
    if len(clips) < args.recordings:
        print(f"error: only {len(clips)} LibriSpeech clips found", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "clips.csv"
        manifest.write_text("audio\n" + "\n".join(str(c) for c in clips) + "\n")
        try:
            runs = {w: run_batch(manifest, w, args) for w in args.workers}
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    base = runs[args.workers[0]]
    base_rate = base["audio_s"] / base["wall_s"]
    print(
        f"{args.recordings} LibriSpeech clips ({base['audio_s'] / 60:.1f} min of audio), {args.backend}, "
        f"{args.shard_size} per shard, private Ray on {len(os.sched_getaffinity(0))} CPUs"
    )
    print(
        "| workers | start-up s | wall s | audio h / wall h | vs 1 worker | shard work s | shard CPU s "
        "| CPU share / worker | audio s / CPU s | shard write s | Ray overhead s / shard | overhead % "
        "| retried | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w, r in runs.items():
        rate = r["audio_s"] / r["wall_s"]
        print(
            f"| {w} | {r['startup_s']:.1f} | {r['wall_s']:.1f} | {rate:.0f} | {rate / base_rate:.2f}× "
            f"| {r['shard_work_s']:.2f} | {r['shard_cpu_s']:.2f} | {r['shard_cpu_s'] / r['shard_work_s']:.2f} "
            f"| {r['audio_s'] / (r['shard_cpu_s'] * r['shards']):.1f} "
            f"| {r['shard_write_s']:.3f} | {r['shard_ray_overhead_s']:.3f} "
            f"| {r['ray_overhead_pct']:.1f} | {r['retried_shards']} | {r['load']:.1f} |"
        )

    rows = batches.batch_items(runs[args.workers[-1]]["job_id"])[: args.write_rows]
    print(
        f"\nrows/s into PostgreSQL (save_shard: delete + insert {len(rows)} real result rows + mark done, "
        f"one transaction per shard, {args.write_shards} shards per writer)"
    )
    print("| writers | rows/s | shards/s | wall s |")
    print("|---|---|---|---|")
    rates = {}
    for writers in (1, 2):
        rates[writers], wall = rows_per_second(args.database, rows, writers, args.write_shards)
        print(f"| {writers} | {rates[writers]:.0f} | {rates[writers] / len(rows):.0f} | {wall:.1f} |")
    last = runs[args.workers[-1]]
    per_worker = last["items"] / last["workers"] / last["wall_s"]  # rows each worker produces per second
    print(
        f"\neach worker writes {per_worker:.2f} rows/s; at {max(rates.values()):.0f} rows/s the database "
        f"saturates near {max(rates.values()) / per_worker:.0f} workers"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
