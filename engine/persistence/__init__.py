"""The one package through which engine code (and the pages) reads and writes the database.

Recordings are content-addressed: the same bytes uploaded twice give the same recording. A recording's
row is written only after its audio is safely in the AudioStore, and any failure on the way leaves
neither row nor file behind. Functions return plain frozen dataclasses, never ORM objects, so callers
cannot trip over detached sessions or lazy loads.

One unit of work per user action: a function that writes takes the caller's SQLAlchemy Session and
never commits, and the function that carries out the action opens one `session_scope()` around all of
its writes, which then commit together or not at all (engine/transcribe_job.py: a transcription's run,
its job and their link). Storing and deleting a recording move audio files beside their rows, so each
is a whole unit of work by itself. Readers take an optional `url` (default: config.database_url()) so
tests and tools can point at any database.

Callers import from here (`from engine import persistence`); which file holds what:

    scope.py        session_scope(), transact() and ensure_schema() on the configured database
    records.py      the plain records (RecordingInfo, RunInfo, JobInfo) and the job states
    recordings.py   uploads: check, probe, dedupe by sha256, store, delete
    runs.py         transcription runs, their turns and speaker names
    jobs.py         the job table: enqueue, atomic claim, heartbeat, finish, cancel, orphans
    batches.py      shards and item results of batch jobs (idempotent per shard); imported as a module
    fairness.py     evaluation sets, speakers, utterances, stored region and cohort analyses
    evaluations.py  scored runs of the evaluation harness
    experiments.py  mitigation experiments
"""

from engine.persistence.evaluations import (
    EvaluationRunInfo,
    get_evaluation_run,
    list_evaluation_runs,
    save_evaluation_run,
)
from engine.persistence.experiments import (
    ExperimentInfo,
    delete_experiment,
    get_experiment,
    list_experiments,
    save_experiment,
)
from engine.persistence.fairness import (
    AnalysisInfo,
    EvaluationSetInfo,
    cohort_member_ids,
    delete_evaluation_set,
    get_evaluation_set,
    latest_analysis,
    list_evaluation_sets,
    save_analysis,
    save_evaluation_set,
    speaker_totals,
    worst_utterances,
)
from engine.persistence.jobs import (
    claim_job,
    claim_next_job,
    enqueue_job,
    fail_job,
    fail_orphaned_jobs,
    finish_job,
    get_job,
    heartbeat,
    list_jobs,
    mark_cancelled,
    request_cancel,
)
from engine.persistence.recordings import (
    add_recording,
    add_uploaded_recording,
    delete_recording,
    find_recording_by_sha,
    get_recording,
    list_recordings,
    recording_audio_path,
)
from engine.persistence.records import ACTIVE_JOB_STATES, FINAL_JOB_STATES, JobInfo, RecordingInfo, RunInfo
from engine.persistence.runs import (
    MAX_SPEAKER_NAME,
    attach_job,
    create_run,
    get_run,
    get_turns,
    latest_finished_run,
    list_runs,
    mark_run_running,
    rename_speaker,
    save_partial_turns,
    save_turns,
    speaker_labels,
    speaker_names,
)
from engine.persistence.scope import ensure_schema, session_scope, transact

__all__ = [
    "ACTIVE_JOB_STATES",
    "FINAL_JOB_STATES",
    "MAX_SPEAKER_NAME",
    "RecordingInfo",
    "RunInfo",
    "JobInfo",
    "EvaluationSetInfo",
    "AnalysisInfo",
    "EvaluationRunInfo",
    "ExperimentInfo",
    "add_recording",
    "add_uploaded_recording",
    "list_recordings",
    "get_recording",
    "find_recording_by_sha",
    "recording_audio_path",
    "delete_recording",
    "create_run",
    "attach_job",
    "mark_run_running",
    "get_run",
    "list_runs",
    "latest_finished_run",
    "save_turns",
    "save_partial_turns",
    "get_turns",
    "speaker_labels",
    "speaker_names",
    "rename_speaker",
    "enqueue_job",
    "get_job",
    "list_jobs",
    "claim_job",
    "claim_next_job",
    "heartbeat",
    "finish_job",
    "fail_job",
    "mark_cancelled",
    "request_cancel",
    "fail_orphaned_jobs",
    "ensure_schema",
    "session_scope",
    "transact",
    "save_evaluation_set",
    "list_evaluation_sets",
    "get_evaluation_set",
    "delete_evaluation_set",
    "speaker_totals",
    "worst_utterances",
    "save_analysis",
    "latest_analysis",
    "cohort_member_ids",
    "save_evaluation_run",
    "list_evaluation_runs",
    "get_evaluation_run",
    "save_experiment",
    "list_experiments",
    "get_experiment",
    "delete_experiment",
]
