"""The "transcribe" job: start one for a recording, and its handler (run a backend, save the run's turns)."""

from __future__ import annotations

import time
from typing import Any

from engine import persistence
from engine.errors import UserError
from engine.jobs import JobRunner, Progress, get_runner
from engine.types import Turn

PARTIAL_EVERY_S = 2.0  # how often partial turns are written for the page (it polls every second)


def start_transcription(
    recording_id: int, backend: str, num_speakers: int | None = None, runner: JobRunner | None = None
) -> persistence.RunInfo:
    """Create a queued run for the recording and the job that fills it, linked, in one unit of work; then
    start the job. A failure on the way leaves neither run nor job behind."""
    runner = runner or get_runner()
    with persistence.session_scope() as s:
        run = persistence.create_run(s, recording_id, backend, {"num_speakers": num_speakers})
        job_id = runner.enqueue(s, "transcribe", {"run_id": run.id})
        persistence.attach_job(s, run.id, job_id)
    runner.start(job_id)
    return persistence.get_run(run.id)


WARM_UP_SPAN_S = (1.0, 5.0)  # a few seconds of the demo meeting's speech


def warm_up() -> None:
    """Transcribe a few seconds of the demo meeting with the default backend, once, as the worker starts:
    the imports and model loads (seconds) are then done before a person's first job."""
    import tempfile

    import soundfile as sf

    from engine import audio
    from engine.backends import BACKENDS
    from engine.demo import DEMO_AUDIO
    from engine.transcription import transcribe_file

    start, end = (round(t * audio.SAMPLE_RATE) for t in WARM_UP_SPAN_S)
    with tempfile.NamedTemporaryFile(suffix=".wav") as piece:
        sf.write(piece.name, audio.load(DEMO_AUDIO)[start:end], audio.SAMPLE_RATE)
        transcribe_file(piece.name, backend=BACKENDS[0])


def handle(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    from engine.transcription import transcribe_file  # heavy (models): imported in the worker only

    run = persistence.transact(persistence.mark_run_running, params["run_id"])
    path = persistence.recording_audio_path(run.recording_id)
    last_published = [float("-inf")]

    def publish(partial: list[Turn]) -> None:
        if time.monotonic() - last_published[0] >= PARTIAL_EVERY_S:
            persistence.transact(persistence.save_partial_turns, run.id, partial)
            last_published[0] = time.monotonic()

    try:
        result = transcribe_file(
            path,
            backend=run.backend,
            num_speakers=run.params.get("num_speakers"),
            progress=progress,
            on_partial=publish,
        )
    except UserError:
        # Bad input that only the backend can see (silence only): an upload that never got a transcript
        # is not kept. The job keeps the sentence for the page.
        if not any(r.status == "done" for r in persistence.list_runs(run.recording_id)):
            persistence.delete_recording(run.recording_id)
        raise
    progress(1.0, "Saving the transcript…")
    n_turns = persistence.transact(persistence.save_turns, run.id, result.turns, rtf=result.rtf)
    return {
        "run_id": run.id,
        "recording_id": run.recording_id,
        "turns": n_turns,
        "duration_s": result.duration_s,
        "processing_s": result.processing_s,
        "rtf": result.rtf,
    }


def transcription_for(
    recording_id: int, backend: str, num_speakers: int | None = None, runner: JobRunner | None = None
) -> persistence.RunInfo:
    """The recording's run with these settings that is done or under way, else a newly started one.

    Uploading the same bytes again thus reopens their transcript instead of computing it twice.
    """
    for run in persistence.list_runs(recording_id):
        if (run.backend, run.params.get("num_speakers")) == (backend, num_speakers) and run.status in (
            "queued",
            "running",
            "done",
        ):
            return run
    return start_transcription(recording_id, backend, num_speakers, runner)
