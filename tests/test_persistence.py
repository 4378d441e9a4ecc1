"""engine.persistence on a real database (SQLite always, PostgreSQL when configured) and a real audio store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db import get_engine, session_scope
from db.models import Job, Recording, RunSpeaker, TranscriptionRun, TurnRow
from engine import persistence
from engine.errors import UserError
from engine.storage import default_store
from engine.types import Turn, Word
from tests.conftest import AMI_AUDIO


def stored_files() -> list[Path]:
    root = default_store().root
    return [p for p in root.rglob("*") if p.is_file()]


def row_counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Recording, TranscriptionRun, TurnRow, RunSpeaker, Job)
        }


def two_speaker_turns() -> list[Turn]:
    return [
        Turn("S1", 0.5, 2.0, [Word("hello", 0.5, 0.9), Word("there", 1.0, 1.4)]),
        Turn("S2", 1.8, 3.5, [Word("good", None, None), Word("morning")]),
        Turn("S1", 4.0, 5.0, [Word("bye")]),
    ]


def test_same_content_twice_is_one_recording(any_db_url, tmp_path):
    copy = tmp_path / "renamed.flac"
    shutil.copy(AMI_AUDIO / "trn00.flac", copy)
    first = persistence.add_recording(AMI_AUDIO / "trn00.flac", "trn00.flac")
    again = persistence.add_recording(copy, "renamed.flac")
    other = persistence.add_recording(AMI_AUDIO / "trn01.flac", "trn01.flac")
    assert again.id == first.id and again.sha256 == first.sha256
    assert other.id != first.id
    assert first.filename == "trn00.flac" and first.sample_rate == 16000 and first.channels == 1
    assert first.duration_s == pytest.approx(30.0, abs=0.01)
    assert [r.id for r in persistence.list_recordings()] == [other.id, first.id]
    assert len(stored_files()) == 2
    assert persistence.recording_audio_path(first.id).read_bytes() == (AMI_AUDIO / "trn00.flac").read_bytes()


@pytest.mark.parametrize("content", [b"", b"this is plain text, not audio at all" * 20, "truncated"])
def test_bad_input_leaves_nothing(any_db_url, tmp_path, content):
    bad = tmp_path / "upload.flac"
    if content == "truncated":
        whole = (AMI_AUDIO / "trn00.flac").read_bytes()
        content = whole[: len(whole) // 3]
    bad.write_bytes(content)
    with pytest.raises(UserError) as caught:
        persistence.add_recording(bad, "upload.flac")
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)
    assert row_counts(any_db_url)["recordings"] == 0
    assert stored_files() == []


def test_failing_row_write_leaves_no_file(any_db_url):
    # A real database failure at the INSERT (a trigger that refuses rows), not a mock.
    engine = get_engine(any_db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON recordings BEGIN SELECT RAISE(ABORT, 'disk full'); END")
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS "
                    "$$BEGIN RAISE EXCEPTION 'disk full'; END$$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON recordings FOR EACH ROW EXECUTE FUNCTION refuse()")
            )
    try:
        with pytest.raises(Exception, match="disk full"):
            persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
        assert row_counts(any_db_url)["recordings"] == 0
        assert stored_files() == []
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse" + ("" if engine.dialect.name == "sqlite" else " ON recordings")))
            if engine.dialect.name != "sqlite":
                conn.execute(text("DROP FUNCTION refuse()"))


def test_delete_removes_audio_and_every_derived_row_but_keeps_job_history(any_db_url):
    keep = persistence.add_recording(AMI_AUDIO / "trn01.flac", "keep.flac")
    gone = persistence.add_recording(AMI_AUDIO / "trn00.flac", "gone.flac")
    for rec in (keep, gone):
        with persistence.session_scope() as s:
            run = persistence.create_run(s, rec.id, "cascade", {"num_speakers": 2})
            persistence.attach_job(s, run.id, persistence.enqueue_job(s, "transcribe", {"run_id": run.id}))
            persistence.save_turns(s, run.id, two_speaker_turns(), rtf=0.5)
            persistence.rename_speaker(s, run.id, "S1", "Alice")
    before = row_counts(any_db_url)
    gone_path = persistence.recording_audio_path(gone.id)

    persistence.delete_recording(gone.id)

    after = row_counts(any_db_url)
    assert after == {"recordings": 1, "transcription_runs": 1, "turns": 3, "run_speakers": 1, "jobs": 2}
    assert before == {name: 2 * n for name, n in after.items() if name != "jobs"} | {"jobs": 2}
    # the deleted recording's job stays as history, cancelled and without references to deleted rows
    gone_job = next(j for j in persistence.list_jobs() if "run_id" not in j.params)
    assert gone_job.status == "cancelled" and gone_job.result is None
    assert not gone_path.exists()
    assert [p.name for p in stored_files()] == [persistence.recording_audio_path(keep.id).name]
    with pytest.raises(UserError):
        persistence.get_recording(gone.id)
    persistence.delete_recording(gone.id)  # deleting twice is harmless


def test_runs_turns_and_renamed_speakers(any_db_url):
    rec = persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
    run = persistence.transact(persistence.create_run, rec.id, "cascade", {"num_speakers": None})
    assert run.status == "queued" and run.n_turns == 0
    assert persistence.transact(persistence.save_turns, run.id, two_speaker_turns(), rtf=0.25) == 3
    done = persistence.get_run(run.id)
    assert (done.status, done.rtf, done.n_turns) == ("done", 0.25, 3)
    assert persistence.latest_finished_run(rec.id) == persistence.list_runs(rec.id)[0]

    turns = persistence.get_turns(run.id)
    assert [t.speaker for t in turns] == ["S1", "S2", "S1"]
    assert turns[0].words == [Word("hello", 0.5, 0.9), Word("there", 1.0, 1.4)]
    assert turns[1].text == "good morning"

    persistence.transact(persistence.rename_speaker, run.id, "S2", "  Bob   Smith ")
    assert persistence.speaker_names(run.id) == {"S1": "S1", "S2": "Bob Smith"}
    assert persistence.speaker_labels(run.id) == ["S1", "S2"]
    assert [t.speaker for t in persistence.get_turns(run.id, display_names=True)] == ["S1", "Bob Smith", "S1"]
    persistence.transact(persistence.rename_speaker, run.id, "S2", "Robert")
    assert persistence.speaker_names(run.id)["S2"] == "Robert"
    with pytest.raises(UserError, match="already called"):
        persistence.transact(persistence.rename_speaker, run.id, "S1", "Robert")
    with pytest.raises(UserError, match="no speaker labelled"):
        persistence.transact(persistence.rename_speaker, run.id, "S9", "Carol")
    persistence.transact(persistence.rename_speaker, run.id, "S2", "")
    assert persistence.speaker_names(run.id) == {"S1": "S1", "S2": "S2"}
    assert row_counts(any_db_url)["run_speakers"] == 0


def test_renaming_several_speakers_is_one_unit_of_work(any_db_url):
    # The Transcribe page saves all changed names in one session: a refused name keeps every name as it was.
    rec = persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
    with persistence.session_scope() as s:
        run = persistence.create_run(s, rec.id, "cascade")
        persistence.save_turns(s, run.id, two_speaker_turns())
    with pytest.raises(UserError, match="already called"), persistence.session_scope() as s:
        persistence.rename_speaker(s, run.id, "S1", "Alice")  # fine by itself, and seen by the next check
        persistence.rename_speaker(s, run.id, "S2", "Alice")
    assert persistence.speaker_names(run.id) == {"S1": "S1", "S2": "S2"}
    with persistence.session_scope() as s:  # a swap within one unit of work: each check sees the one before
        persistence.rename_speaker(s, run.id, "S1", "Alice")
        persistence.rename_speaker(s, run.id, "S2", "Bob")
    with persistence.session_scope() as s:
        persistence.rename_speaker(s, run.id, "S1", "Carol")
        persistence.rename_speaker(s, run.id, "S2", "Alice")
    assert persistence.speaker_names(run.id) == {"S1": "Carol", "S2": "Alice"}


def test_partial_turns_are_shown_while_running_and_never_overwrite_a_finished_run(any_db_url):
    rec = persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
    run = persistence.transact(persistence.create_run, rec.id, "sst")
    assert not persistence.transact(persistence.save_partial_turns, run.id, two_speaker_turns()[:1])  # queued
    assert persistence.transact(persistence.mark_run_running, run.id).status == "running"
    assert persistence.transact(persistence.save_partial_turns, run.id, two_speaker_turns()[:1])
    assert persistence.transact(persistence.save_partial_turns, run.id, two_speaker_turns()[:2])  # replaces
    assert [t.text for t in persistence.get_turns(run.id)] == [t.text for t in two_speaker_turns()[:2]]
    assert persistence.get_run(run.id).status == "running"
    persistence.transact(persistence.save_turns, run.id, two_speaker_turns())
    assert not persistence.transact(persistence.save_partial_turns, run.id, [])  # a late partial result is ignored
    assert len(persistence.get_turns(run.id)) == 3


def test_save_turns_is_one_transaction(any_db_url):
    rec = persistence.add_recording(AMI_AUDIO / "trn02.flac", "trn02.flac")
    with persistence.session_scope() as s:
        run = persistence.create_run(s, rec.id, "cascade")
        persistence.save_turns(s, run.id, two_speaker_turns())
    broken = two_speaker_turns() + [Turn("S3", "not a time", 2.0)]
    with pytest.raises(ValueError):
        persistence.transact(persistence.save_turns, run.id, broken)
    assert [t.text for t in persistence.get_turns(run.id)] == [t.text for t in two_speaker_turns()]


def test_jobs_are_claimed_once_in_order_and_orphans_fail(any_db_url):
    with persistence.session_scope() as s:
        first = persistence.enqueue_job(s, "transcribe", {"n": 1})
        second = persistence.enqueue_job(s, "transcribe", {"n": 2})
        other_kind = persistence.enqueue_job(s, "train", {})
    assert persistence.transact(persistence.claim_next_job, ["transcribe"]).id == first
    assert persistence.get_job(first).worker_pid == os.getpid()
    assert persistence.transact(persistence.request_cancel, second).status == "cancelled"
    assert persistence.transact(persistence.claim_next_job, ["transcribe"]) is None
    assert persistence.get_job(other_kind).status == "queued"

    assert persistence.transact(persistence.fail_orphaned_jobs, lambda host, pid: True, stale_after_s=60) == []
    assert persistence.transact(persistence.fail_orphaned_jobs, lambda host, pid: False, stale_after_s=60) == [first]
    failed = persistence.get_job(first)
    assert failed.status == "failed" and failed.error == "The worker process stopped before this job finished."
