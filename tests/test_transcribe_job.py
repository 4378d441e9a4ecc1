"""start_transcription is one unit of work: the run, its job and their link commit together or not at all,
and the job is started only once they are committed. Real database (SQLite, and PostgreSQL when configured),
real runner subclasses; no worker process is needed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db import session_scope
from db.models import Job, TranscriptionRun
from engine import persistence
from engine.errors import UserError
from engine.jobs import LocalJobRunner
from engine.transcribe_job import start_transcription
from tests.conftest import AMI_AUDIO


class QuietRunner(LocalJobRunner):
    """The local runner without its worker: start() records what a worker starting now would find."""

    def __init__(self):
        super().__init__()
        self.started: list[tuple[persistence.JobInfo, list[persistence.RunInfo]]] = []

    def start(self, job_id: int) -> None:
        self.started.append((persistence.get_job(job_id), persistence.list_runs()))


class KindlessQueue(QuietRunner):
    """Its job insert breaks the schema: a job without a kind (jobs.kind is NOT NULL)."""

    def enqueue(self, session, kind, params):
        return persistence.enqueue_job(session, None, params)


class RefusingQueue(QuietRunner):
    """Writes its job row, then refuses (a full queue) before the run is linked to the job."""

    def enqueue(self, session, kind, params):
        super().enqueue(session, kind, params)
        raise UserError("The job queue is full; try again in a minute.")


def row_counts(url: str) -> tuple[int, int]:
    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (TranscriptionRun, Job))


@pytest.fixture
def recording(any_db_url) -> persistence.RecordingInfo:
    return persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")


def test_the_run_and_its_job_are_committed_linked_before_the_job_starts(any_db_url, recording):
    runner = QuietRunner()
    run = start_transcription(recording.id, "cascade", 2, runner)
    [(job, runs)] = runner.started
    assert (job.id, job.kind, job.status, job.params) == (run.job_id, "transcribe", "queued", {"run_id": run.id})
    assert [(r.id, r.job_id, r.status, r.params) for r in runs] == [(run.id, job.id, "queued", {"num_speakers": 2})]
    assert row_counts(any_db_url) == (1, 1)


@pytest.mark.parametrize(("runner_class", "error"), [(KindlessQueue, IntegrityError), (RefusingQueue, UserError)])
def test_a_failed_job_insert_leaves_no_run_behind(any_db_url, recording, runner_class, error):
    runner = runner_class()
    with pytest.raises(error):
        start_transcription(recording.id, "cascade", 2, runner)
    assert persistence.list_runs(recording.id) == []
    assert row_counts(any_db_url) == (0, 0)
    assert runner.started == []  # nothing to run: no job was ever visible to a worker
    # the recording itself is untouched, and the next attempt starts cleanly
    run = start_transcription(recording.id, "cascade", 2, QuietRunner())
    assert persistence.get_run(run.id).job_id is not None and row_counts(any_db_url) == (1, 1)
