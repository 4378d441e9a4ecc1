"""The local job runner with real worker processes on a real SQLite database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from engine import jobs, persistence
from engine.jobs import LocalJobRunner
from engine.storage import default_store
from engine.transcribe_job import start_transcription
from engine.worker import CANCEL_GRACE_S
from tests.conftest import REPO_ROOT

TEST_HANDLERS = {
    "count": "jobs_for_tests:count",
    "refuse": "jobs_for_tests:refuse",
    "crash": "jobs_for_tests:crash",
    "sleep_quietly": "jobs_for_tests:sleep_quietly",
}
TESTS_ON_PYTHONPATH = os.pathsep.join(filter(None, [str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH")]))
# The worker runs with tests/ on PYTHONPATH (see `runner`), so `jobs_for_tests` imports in the worker.
WORKER_WITH_TEST_HANDLERS = f"""
import sys
from engine import jobs
jobs.HANDLERS.update({TEST_HANDLERS!r})
from engine.worker import run_worker
sys.exit(run_worker(idle_exit_s=120, poll_s=0.1, warm_up=False))
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
def runner(db_url, data_dir, monkeypatch):
    """A LocalJobRunner whose data dir is served by a real worker process that also knows the test handlers."""
    for kind, target in TEST_HANDLERS.items():
        monkeypatch.setitem(jobs.HANDLERS, kind, target)
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_WITH_TEST_HANDLERS],
        cwd=REPO_ROOT,
        env={**os.environ, "CROSSTALK_DATABASE_URL": db_url, "PYTHONPATH": TESTS_ON_PYTHONPATH},
    )
    wait_for(lambda: jobs.running_worker_pid(data_dir) == proc.pid, 60, "the worker to take its lock")
    local = LocalJobRunner(data_dir)
    local.worker = proc
    yield local
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=20)


def settled(runner, job_id):
    job = runner.status(job_id)
    return job if job.status in persistence.FINAL_JOB_STATES else None


def test_two_jobs_queue_and_finish_in_order(runner):
    first = runner.submit("count", {"steps": 8})
    second = runner.submit("count", {"steps": 3})
    assert runner.status(second).status == "queued"
    a = wait_for(lambda: settled(runner, first), 30, "the first job")
    b = wait_for(lambda: settled(runner, second), 30, "the second job")
    assert (a.status, b.status) == ("done", "done")
    assert a.finished_at <= b.started_at
    assert a.progress == 1.0 and b.message == "Done."
    assert runner.result(first) == {"steps": 8, "worker_pid": runner.worker.pid}


def test_a_killed_workers_job_is_marked_failed(runner):
    job_id = runner.submit("count", {"steps": 400, "step_s": 0.05})
    wait_for(lambda: runner.status(job_id).progress > 0, 30, "the job to make progress")
    os.kill(runner.worker.pid, signal.SIGKILL)
    # The dead worker is still our (zombie) child here: it must count as dead all the same.
    failed = wait_for(lambda: settled(runner, job_id), 10, "the orphaned job to be failed")
    assert failed.status == "failed"
    assert failed.error == "The worker process stopped before this job finished."
    assert runner.result(job_id) is None


def test_cancel_queued_and_running_jobs(runner):
    running = runner.submit("count", {"steps": 400, "step_s": 0.05})
    queued = runner.submit("count", {"steps": 2})
    wait_for(lambda: runner.status(running).status == "running", 30, "the first job to start")
    assert runner.cancel(queued).status == "cancelled"
    assert runner.cancel(running).status == "cancelling"
    assert wait_for(lambda: settled(runner, running), 10, "the running job to stop").status == "cancelled"
    after = runner.submit("count", {"steps": 2})  # the worker lives on and takes the next job
    assert wait_for(lambda: settled(runner, after), 30, "a job after the cancel").status == "done"
    assert runner.status(queued).started_at is None


@pytest.mark.slow
def test_a_handler_that_ignores_cancel_is_stopped_with_its_worker(runner):
    job_id = runner.submit("sleep_quietly", {"seconds": 120})
    wait_for(lambda: runner.status(job_id).status == "running", 30, "the job to start")
    runner.cancel(job_id)
    stopped = wait_for(lambda: settled(runner, job_id), CANCEL_GRACE_S + 10, "the forced stop")
    assert stopped.status == "cancelled"
    assert runner.worker.wait(timeout=10) == 3


def test_failures_are_recorded_as_a_sentence(runner):
    refused = runner.submit("refuse", {})
    crashed = runner.submit("crash", {"zero": 0})
    r = wait_for(lambda: settled(runner, refused), 30, "the refused job")
    c = wait_for(lambda: settled(runner, crashed), 30, "the crashed job")
    assert (r.status, r.error) == ("failed", "The test input was refused on purpose.")
    assert c.status == "failed"
    assert c.error == "The crash job crashed (ZeroDivisionError: division by zero)."
    assert runner.worker.poll() is None  # failures do not take the worker down


def test_unknown_kind_is_refused(db_url, data_dir):
    with pytest.raises(Exception, match="There is no job of kind 'nonsense'"):
        LocalJobRunner(data_dir).submit("nonsense", {})
    assert persistence.list_jobs() == []


def test_transcription_runs_in_an_on_demand_detached_worker(db_url, data_dir, speech_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_WORKER_IDLE_S", "30")
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(3 * 16000, dtype=np.float32), 16000)
    quiet = persistence.add_recording(silent, "silence.wav")
    rec = persistence.add_recording(speech_wav, "two_voices.wav")
    try:
        refused = start_transcription(quiet.id, "cascade")
        run = start_transcription(rec.id, "cascade", num_speakers=2)
        worker_pid = wait_for(lambda: jobs.running_worker_pid(data_dir), 60, "the worker to start")
        with open(f"/proc/{worker_pid}/stat") as fh:  # detached: not a child of this process
            assert int(fh.read().rsplit(")", 1)[1].split()[1]) != os.getpid()
        runner = LocalJobRunner(data_dir)
        job = wait_for(lambda: settled(runner, run.job_id), 240, "the transcription job")
        assert job.status == "done", job.error
        done = persistence.get_run(run.id)
        assert done.status == "done" and done.n_turns == job.result["turns"] > 0
        turns = persistence.get_turns(run.id)
        assert {t.speaker for t in turns} <= {"S1", "S2"} and sum(len(t.words) for t in turns) > 0

        # silence only is bad input found by the backend: one sentence, and the upload is not kept
        failed = runner.status(refused.job_id)
        assert (failed.status, failed.error) == ("failed", "The recording contains no speech.")
        assert [r.id for r in persistence.list_recordings()] == [rec.id]
        assert not default_store().exists(quiet.sha256)
    finally:
        jobs.stop_worker(data_dir)
    assert jobs.running_worker_pid(data_dir) is None


def test_transcription_handler_publishes_partial_turns_then_the_final_ones(db_url, speech_wav):
    from engine import transcribe_job
    from engine.cascade.pipeline import UNATTRIBUTED

    rec = persistence.add_recording(speech_wav, "two_voices.wav")
    run = persistence.transact(persistence.create_run, rec.id, "cascade", {"num_speakers": 2})
    seen_while_running = []

    def progress(fraction, message):
        if message == "Done":  # the backend has finished, the handler has not saved yet
            seen_while_running.extend(persistence.get_turns(run.id))

    result = transcribe_job.handle({"run_id": run.id}, progress)
    assert seen_while_running and {t.speaker for t in seen_while_running} == {UNATTRIBUTED}
    final = persistence.get_turns(run.id)
    assert len(final) == result["turns"] and {t.speaker for t in final} <= {"S1", "S2"}
    assert persistence.get_run(run.id).status == "done"
