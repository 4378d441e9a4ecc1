"""python -m engine batch transcribe|fairness|evaluate|status|cancel|export — batch jobs over many recordings.

    python -m engine batch transcribe --manifest FILE [--backend cascade] [--speakers N]
    python -m engine batch fairness --audio-manifest FILE --name NAME [--backend cascade] [--speakers 1] [--replace]
    python -m engine batch evaluate --backend NAME --set DIR [--limit N] [--oracle-speakers] [--no-db]
        each with [--runner local|ray] [--workers N] [--shard-size K] [--detach]
    python -m engine batch status JOB | cancel JOB | export JOB --out-dir DIR

The runner is CROSSTALK_JOB_RUNNER (default local: the shards run one after another in this process);
with ray the shards fan out over the Ray cluster at CROSSTALK_RAY_ADDRESS (none: a private Ray on this
machine, which lives as long as this command). Progress goes to the database as shards finish, so every
app instance on it shows the job. --detach returns at once (needs a cluster that outlives the command).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from engine.errors import UserError

WAIT_POLL_S = 0.5


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="batch transcription, fairness runs and evaluations (local or Ray)",
        description=__doc__.splitlines()[0],
    )
    sub = parser.add_subparsers(dest="batch_command", required=True)

    p = sub.add_parser("transcribe", help="speaker-attributed turns of every recording a manifest names")
    p.add_argument("--manifest", type=Path, required=True, help="CSV/JSONL/Parquet with an 'audio' column")
    p.add_argument("--backend", default="cascade")
    p.add_argument("--speakers", type=int, default=None, help="speakers per recording, if known")
    _runner_options(p)
    p.set_defaults(
        func=run_batch,
        kind="batch_transcribe",
        params=lambda a: {"manifest": str(a.manifest.resolve()), "backend": a.backend, "num_speakers": a.speakers},
    )

    p = sub.add_parser("fairness", help="`fairness run` as a batch: an evaluation set from audio")
    p.add_argument(
        "--audio-manifest",
        type=Path,
        required=True,
        help="utterance_id, speaker_id, audio, reference (+ location, demographics)",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--backend", default="cascade")
    p.add_argument("--speakers", type=int, default=1, help="speakers per file (default 1)")
    p.add_argument("--replace", action="store_true")
    _runner_options(p)
    p.set_defaults(
        func=run_batch,
        kind="batch_fairness",
        params=lambda a: {
            "manifest": str(a.audio_manifest.resolve()),
            "name": a.name,
            "backend": a.backend,
            "speakers": a.speakers,
            "replace": a.replace,
        },
    )

    p = sub.add_parser("evaluate", help="`evaluate` as a batch: score a backend on a simulated set")
    p.add_argument("--backend", required=True)
    p.add_argument("--set", dest="set_dir", type=Path, required=True)
    p.add_argument("--limit", type=int)
    p.add_argument("--oracle-speakers", action="store_true")
    p.add_argument("--no-db", action="store_true", help="do not store the evaluation run")
    _runner_options(p)
    p.set_defaults(
        func=run_batch,
        kind="batch_evaluate",
        params=lambda a: {
            "set_dir": str(a.set_dir.resolve()),
            "backend": a.backend,
            "limit": a.limit,
            "oracle_speakers": a.oracle_speakers,
            "store": not a.no_db,
        },
    )

    p = sub.add_parser("status", help="a batch job's state and progress")
    p.add_argument("job", type=int)
    p.set_defaults(func=run_status)
    p = sub.add_parser("cancel", help="cancel a batch job")
    p.add_argument("job", type=int)
    p.set_defaults(func=run_cancel)
    p = sub.add_parser("export", help="write a transcription batch's turns, one SegLST JSON per recording")
    p.add_argument("job", type=int)
    p.add_argument("--out-dir", type=Path, required=True)
    p.set_defaults(func=run_export)


def _runner_options(p) -> None:
    p.add_argument("--runner", choices=("local", "ray"), default=None, help="default: CROSSTALK_JOB_RUNNER or local")
    p.add_argument("--workers", type=int, default=None, help="ray: worker processes (default: the cluster's CPUs)")
    p.add_argument("--shard-size", type=int, default=None, help="items per shard (default 4)")
    p.add_argument("--detach", action="store_true", help="ray: return once submitted (needs CROSSTALK_RAY_ADDRESS)")


def _database() -> None:
    from engine import persistence

    persistence.ensure_schema()


def run_batch(args: argparse.Namespace) -> int:
    from engine import config

    _database()
    runner = args.runner or config.job_runner()
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1.")
    params = {**args.params(args), "shard_size": args.shard_size}
    if runner == "local":
        if args.detach:
            raise UserError("--detach needs the ray runner; the local runner runs the batch in this command.")
        job = _run_here(args.kind, params)
    else:
        job = _run_on_ray(args.kind, params, args.workers, args.detach)
        if job is None:
            return 0
    _report(job)
    return 0 if job.status == "done" else 1


def _run_here(kind: str, params: dict[str, Any]):
    from tqdm import tqdm

    from engine import persistence
    from engine.runners import batch

    with persistence.session_scope() as s:  # queued and claimed at once: this process runs it
        job_id = batch.enqueue(s, kind, params)
        persistence.claim_job(s, job_id)
    print(f"batch job {job_id} (local, in this process)")
    with tqdm(
        total=100, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}", leave=False, disable=None
    ) as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message)
            bar.update(round(100 * fraction) - bar.n)

        try:
            batch.run_here(job_id, progress)
        except KeyboardInterrupt:
            pass  # run_here has recorded the job as stopped
    return persistence.get_job(job_id)


def _run_on_ray(kind: str, params: dict[str, Any], workers: int | None, detach: bool):
    from engine.runners.ray_runner import RayJobRunner, ray_address

    if detach and ray_address() is None:
        raise UserError("--detach needs CROSSTALK_RAY_ADDRESS: a private Ray ends with this command.")
    runner = RayJobRunner(workers=workers)
    job_id = runner.submit(kind, params)
    print(f"batch job {job_id} on Ray ({runner.address or 'private local Ray'})")
    if detach:
        print(f"follow it with: python -m engine batch status {job_id}")
        return None
    return _wait(runner, job_id)


def _wait(runner, job_id: int):
    from tqdm import tqdm

    with tqdm(
        total=100, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}", leave=False, disable=None
    ) as bar:
        try:
            while (job := runner.status(job_id)).active:
                bar.set_description(job.message)
                bar.update(round(100 * job.progress) - bar.n)
                time.sleep(WAIT_POLL_S)
        except KeyboardInterrupt:
            runner.cancel(job_id)
            while (job := runner.status(job_id)).active:
                time.sleep(WAIT_POLL_S)
    return job


def _report(job) -> None:
    if job.status != "done":
        print(f"job {job.id} {job.status}{': ' + job.error if job.error else ''}")
        return
    result = dict(job.result)
    stats = result.pop("batch")
    hours = stats["audio_s"] / 3600
    wall = stats.get("wall_s") or 0.0
    print(
        f"job {job.id} done: {stats['items']} items in {stats['shards']} shards on {stats['workers']} workers, "
        f"{stats['audio_s'] / 60:.1f} min of audio in {wall:.1f} s"
        f"{f' ({hours / (wall / 3600):.0f} audio hours per wall hour)' if wall else ''}, "
        f"{stats['retried_shards']} shards retried"
    )
    print(json.dumps(result, sort_keys=True))


def run_status(args: argparse.Namespace) -> int:
    from engine.jobs import get_runner

    job = get_runner().status(args.job)
    if job is None:
        raise UserError(f"There is no job {args.job}.")
    print(
        f"job {job.id} ({job.kind}) {job.status}, {100 * job.progress:.0f} %: {job.message}"
        f"{' — ' + job.error if job.error else ''}"
    )
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from engine.jobs import get_runner

    job = get_runner().cancel(args.job)
    if job is None:
        raise UserError(f"There is no job {args.job}.")
    print(f"job {job.id} {job.status}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from engine import persistence
    from engine.exports import render, safe_name
    from engine.persistence import batches
    from engine.runners.kinds import turns_from_json

    job = persistence.get_job(args.job)
    if job is None or job.kind != "batch_transcribe":
        raise UserError(f"Job {args.job} is not a transcription batch.")
    if not args.out_dir.is_dir():
        raise UserError(f"The output folder {args.out_dir} does not exist.")
    items = batches.batch_items(args.job)
    for item in items:
        session = safe_name(Path(item.key).stem)
        for name, text in render(turns_from_json(item.result["turns"]), "seglst", session, item.audio_s):
            (args.out_dir / name).write_text(text, encoding="utf-8")
    print(f"{len(items)} transcripts → {args.out_dir}")
    return 0
