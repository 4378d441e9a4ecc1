"""Batch jobs: idempotent shard writes (SQLite and PostgreSQL), the in-process runner, and the team setup
for real — a `ray start --head` cluster on 127.0.0.1, PostgreSQL, two app processes following one batch,
a worker killed mid-shard (nothing lost, nothing doubled, the shard rerun). Opt-in (-m slow): a cancel, a
page's kind of job on one actor, and the cascade itself as the batch's work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from app_harness import free_port
from sqlalchemy.exc import IntegrityError

from db import session_scope
from db.models import BatchItem
from engine import config, persistence
from engine.persistence import batches
from engine.persistence.batches import ItemResult
from engine.runners import batch
from tests.conftest import REPO_ROOT

TESTS_DIR = REPO_ROOT / "tests"
LIBRISPEECH = sorted((config.shared_data_dir() / "librispeech_excerpts" / "audio").glob("*/*.ogg"))
LOUDNESS = "ray_kinds_for_tests:Loudness"

# An app instance's view of a job: what a page does on every rerun (engine.jobs.get_runner().status).
OBSERVER = """
import json, sys, time
from pathlib import Path
from engine.jobs import get_runner
job_file = Path(sys.argv[1])
while not job_file.exists():
    time.sleep(0.05)
job_id = int(job_file.read_text())
runner = get_runner()
while True:
    job = runner.status(job_id)
    print(json.dumps({"runner": type(runner).__name__, "status": job.status, "progress": job.progress,
                      "message": job.message}), flush=True)
    if not job.active:
        break
    time.sleep(0.2)
"""


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def loudness_kind(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS_DIR))
    monkeypatch.setitem(batch.BATCH_KINDS, "loudness", LOUDNESS)
    return "loudness"


def test_a_shard_written_twice_keeps_its_rows_once(any_db_url):
    job_id = persistence.transact(batches.enqueue_batch, "loudness", {}, [["a", "b"], ["c"]])
    assert persistence.transact(batches.start_shard, job_id, 0, "host", 1) == 1
    first = [ItemResult("a", 1.0, 0.1, {"v": 1}), ItemResult("b", 2.0, 0.2, {"v": 2})]
    persistence.transact(batches.save_shard, job_id, 0, first)
    # the same shard again (a retry whose first run had written): replaced, not appended
    assert persistence.transact(batches.start_shard, job_id, 0, "host", 2) == 2
    second = [ItemResult("a", 1.0, 0.3, {"v": 10}), ItemResult("b", 2.0, 0.4, {"v": 20})]
    persistence.transact(batches.save_shard, job_id, 0, second)
    items = batches.batch_items(job_id)
    assert [(i.key, i.result["v"]) for i in items] == [("a", 10), ("b", 20)]
    progress = batches.batch_progress(job_id)
    assert (progress.shards_done, progress.shards, progress.items_done, progress.items) == (1, 2, 2, 3)
    assert progress.audio_s_done == 3.0
    # and the schema itself refuses a second row for an item of the job
    with pytest.raises(IntegrityError), session_scope(any_db_url) as s:
        s.add(BatchItem(job_id=job_id, shard=1, item_key="a", audio_s=0.0, compute_s=0.0, result={}))


def test_a_bad_batch_is_one_sentence_before_any_job_exists(db_url, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"audio\n{LIBRISPEECH[0]}\n{tmp_path / 'missing.ogg'}\n")
    with pytest.raises(Exception, match=r"Row 2, column 'audio': .*missing.ogg does not exist"):
        persistence.transact(batch.enqueue, "batch_transcribe", {"manifest": str(manifest)})
    manifest.write_text(f"audio\n{LIBRISPEECH[0]}\n{LIBRISPEECH[0]}\n")
    with pytest.raises(Exception, match="appears twice"):
        persistence.transact(batch.enqueue, "batch_transcribe", {"manifest": str(manifest)})
    assert persistence.list_jobs() == []


def test_the_local_runner_runs_the_shards_here(db_url, loudness_kind):
    paths = [str(p) for p in LIBRISPEECH[:5]]
    with persistence.session_scope() as s:
        job_id = batch.enqueue(s, loudness_kind, {"paths": paths, "shard_size": 2})
        persistence.claim_job(s, job_id)
    seen = []
    result = batch.run_here(job_id, lambda fraction, message: seen.append((fraction, message)))
    assert [f for f, _ in seen] == [0.4, 0.8, 1.0] and seen[0][1].startswith("2 of 5 items (1 of 3 shards")
    assert result["recordings"] == 5 and result["batch"]["shards"] == 3 and result["batch"]["retried_shards"] == 0
    assert [i.key for i in batches.batch_items(job_id)] == paths
    assert persistence.get_job(job_id).status == "done"


def test_a_page_thread_without_a_cluster_address_gets_one_sentence(monkeypatch):
    from engine.errors import UserError
    from engine.runners.ray_runner import connect, ray  # ray through the runner: it sets Ray's auth mode first

    assert not ray.is_initialized()  # this module's Ray tests come after this one
    monkeypatch.delenv("CROSSTALK_RAY_ADDRESS", raising=False)
    raised = []

    def page():
        try:
            connect(None)
        except UserError as exc:
            raised.append(str(exc))

    thread = threading.Thread(target=page)
    thread.start()
    thread.join()
    assert raised == [
        "The Ray job runner needs CROSSTALK_RAY_ADDRESS here (a cluster started with "
        "`ray start --head`; see docs/team.md)."
    ]
    assert not ray.is_initialized()


# --- the team setup: a Ray head, PostgreSQL, two app processes ------------------------------------


@pytest.fixture(scope="module")
def ray_head():
    """A real `ray start --head` on 127.0.0.1 (2 CPUs), stopped at the end of the module."""
    if not os.environ.get("CROSSTALK_TEST_POSTGRES_URL"):
        pytest.skip("CROSSTALK_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    log = Path(temp_dir) / "head.log"
    env = {**os.environ, "RAY_memory_monitor_refresh_ms": "0"}  # see docs/team.md: shared machines
    # engine.runners.ray_runner, once imported, sets RAY_AUTH_MODE=token for this process and its children; in
    # that mode `ray start` reads a token but never makes one, so a fresh machine gets its local token first
    # (the command Ray's own error message gives; it prints the token, so its output is kept out of the log)
    if not (Path.home() / ".ray" / "auth_token").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "ray"), "get-auth-token", "--generate"],
            env={**env, "RAY_AUTH_MODE": "token"},
            capture_output=True,
            check=True,
        )
    head = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(
        lambda: "Ray runtime started" in log.read_text(errors="replace") or head.poll() is not None,
        90,
        "the Ray head to start",
    )
    assert head.poll() is None, log.read_text(errors="replace")
    yield f"127.0.0.1:{port}"
    import ray

    ray.shutdown()
    head.terminate()  # `ray start --block` stops the processes it started
    head.wait(timeout=60)
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def ray_runner(ray_head, data_dir, postgres_url, loudness_kind, monkeypatch):
    # The Ray workers import the test kind from tests/ (ray_runner passes PYTHONPATH on).
    monkeypatch.setenv("PYTHONPATH", str(TESTS_DIR))
    from engine.runners.ray_runner import RayJobRunner

    return RayJobRunner(address=ray_head, workers=2)


def _observers(job_file: Path, address: str, n: int = 2) -> list[subprocess.Popen]:
    env = {**os.environ, "CROSSTALK_JOB_RUNNER": "ray", "CROSSTALK_RAY_ADDRESS": address, "PYTHONPATH": str(REPO_ROOT)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", OBSERVER, str(job_file)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]


def _running_shard(job_id: int):
    return next((s for s in batches.list_shards(job_id) if s.status == "running" and s.attempts == 1), None)


@pytest.mark.postgres
def test_a_batch_on_ray_survives_a_killed_worker_while_two_apps_follow_it(ray_runner, ray_head, tmp_path):
    paths = [str(p) for p in LIBRISPEECH[:16]]
    job_file = tmp_path / "job_id"
    observers = _observers(job_file, ray_head)
    job_id = ray_runner.submit("loudness", {"paths": paths, "shard_size": 2, "hold_s": 0.5})
    job_file.write_text(str(job_id))

    victim = wait_for(lambda: _running_shard(job_id), 90, "a shard under way")
    os.kill(victim.worker_pid, signal.SIGKILL)  # the worker process dies mid-shard
    job = wait_for(
        lambda: (j := ray_runner.status(job_id)).status in persistence.FINAL_JOB_STATES and j, 120, "the batch to end"
    )
    assert job.status == "done", job.error

    # nothing lost, nothing doubled, the killed shard rerun on a restarted worker
    items = batches.batch_items(job_id)
    assert sorted(i.key for i in items) == sorted(paths)
    assert batches.count_batch_items(job_id) == len(paths)
    rerun = next(s for s in batches.list_shards(job_id) if s.shard == victim.shard)
    assert (rerun.status, rerun.attempts) == ("done", 2) and rerun.worker_pid != victim.worker_pid
    assert {i.result["pid"] for i in items if i.key in victim.items} == {rerun.worker_pid}
    assert job.result["recordings"] == len(paths) and job.result["batch"]["retried_shards"] >= 1
    assert job.result["batch"]["workers"] == 2 and all(s.status == "done" for s in batches.list_shards(job_id))

    # both app processes followed the same job through the database as it went
    for proc in observers:
        out, _ = proc.communicate(timeout=60)
        seen = [json.loads(line) for line in out.splitlines()]
        assert {s["runner"] for s in seen} == {"RayJobRunner"}
        assert any(0 < s["progress"] < 1 and f"of {len(paths)} items" in s["message"] for s in seen), seen
        assert seen[-1]["status"] == "done" and seen[-1]["progress"] == 1.0


@pytest.mark.slow  # with the test above the Ray tests took 70 s on this shared machine; this one alone 17 s
@pytest.mark.postgres
def test_a_cancelled_batch_stops_and_keeps_only_whole_shards(ray_runner, ray_head):
    import ray

    paths = [str(p) for p in LIBRISPEECH[:12]]
    job_id = ray_runner.submit("loudness", {"paths": paths, "shard_size": 2, "hold_s": 1.0})
    wait_for(lambda: any(s.status == "done" for s in batches.list_shards(job_id)), 90, "a first shard")
    assert ray_runner.cancel(job_id).status == "cancelling"
    job = wait_for(
        lambda: (j := ray_runner.status(job_id)).status in persistence.FINAL_JOB_STATES and j, 30, "the cancel"
    )
    assert job.status == "cancelled" and ray_runner.result(job_id) is None
    done = [s for s in batches.list_shards(job_id) if s.status == "done"]
    assert 0 < len(done) < 6
    assert sorted(i.key for i in batches.batch_items(job_id)) == sorted(k for s in done for k in s.items)

    def coordinator_gone():
        try:
            ray.get_actor(f"job-{job_id}")
        except ValueError:
            return True
        return False

    wait_for(coordinator_gone, 30, "the job's actor to exit")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_job_that_is_not_a_batch_runs_whole_on_one_actor(ray_runner, monkeypatch):
    from engine import jobs

    monkeypatch.setitem(jobs.HANDLERS, "count", "jobs_for_tests:count")
    submitted = []  # submitted from another thread, as a Streamlit page's script thread does
    page = threading.Thread(target=lambda: submitted.append(ray_runner.submit("count", {"steps": 10, "step_s": 0.05})))
    page.start()
    page.join()
    job_id = submitted[0]
    job = wait_for(lambda: (j := ray_runner.status(job_id)).status in persistence.FINAL_JOB_STATES and j, 60, "the job")
    assert job.status == "done", job.error
    assert ray_runner.result(job_id) == {"steps": 10, "worker_pid": job.worker_pid}
    assert job.worker_pid != os.getpid()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_cascade_batch_on_ray_with_a_killed_worker(ray_head, data_dir, postgres_url, tmp_path):
    """The real backend through the registry: models load once per worker, and again after the kill."""
    from engine.runners.ray_runner import RayJobRunner

    manifest = tmp_path / "recordings.csv"
    paths = [str(p) for p in LIBRISPEECH[:6]]
    manifest.write_text("audio\n" + "\n".join(paths) + "\n")
    runner = RayJobRunner(address=ray_head, workers=2)
    job_id = runner.submit("batch_transcribe", {"manifest": str(manifest), "num_speakers": 1, "shard_size": 1})
    victim = wait_for(lambda: _running_shard(job_id), 120, "a shard under way")
    time.sleep(1.0)  # into the model's work, not only its start
    os.kill(victim.worker_pid, signal.SIGKILL)
    job = wait_for(
        lambda: (j := runner.status(job_id)).status in persistence.FINAL_JOB_STATES and j, 400, "the batch to end"
    )
    assert job.status == "done", job.error
    items = batches.batch_items(job_id)
    assert sorted(i.key for i in items) == sorted(paths) and batches.count_batch_items(job_id) == len(paths)
    assert all(i.result["text"].strip() for i in items)  # every clip is read speech
    assert next(s for s in batches.list_shards(job_id) if s.shard == victim.shard).attempts == 2
