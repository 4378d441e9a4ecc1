"""Typed SQLAlchemy 2.0 models.

Rates are never stored alone: every WER-like number sits beside the counts it came from
(errors, reference words) so aggregates are always Σ errors / Σ words.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- transcription -------------------------------------------------------------------------------


class Recording(Base):
    """An uploaded (or demo) audio file, stored content-addressed by the sha256 of its bytes."""

    __tablename__ = "recordings"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused: an old link never opens another recording
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int]
    duration_s: Mapped[float]
    source_sample_rate: Mapped[int]
    source_channels: Mapped[int]
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    runs: Mapped[list[TranscriptionRun]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", passive_deletes=True
    )


class Job(Base):
    """A unit of background work. Progress and failures live here so any page (or process) can poll."""

    __tablename__ = "jobs"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(
        String(16), default="queued", index=True
    )  # queued|running|cancelling|done|failed|cancelled
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    worker_pid: Mapped[int | None]
    worker_host: Mapped[str | None] = mapped_column(String(255))  # a pid is only meaningful on its host
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # stale = worker gone
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TranscriptionRun(Base):
    __tablename__ = "transcription_runs"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    backend: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # mirrors its job
    rtf: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    recording: Mapped[Recording] = relationship(back_populates="runs")
    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="TurnRow.start"
    )
    speakers: Mapped[list[RunSpeaker]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class RunSpeaker(Base):
    """The display name a person gave to a speaker label of one run (labels themselves never change)."""

    __tablename__ = "run_speakers"
    __table_args__ = (UniqueConstraint("run_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("transcription_runs.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("transcription_runs.id", ondelete="CASCADE"), index=True)
    speaker: Mapped[str] = mapped_column(String(64))
    channel: Mapped[int | None]
    start: Mapped[float]
    end: Mapped[float]
    text: Mapped[str] = mapped_column(Text, default="")
    words: Mapped[list[Any]] = mapped_column(default=list)  # [[word, start|None, end|None], ...]
    unterminated: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[TranscriptionRun] = relationship(back_populates="turns")


class EvaluationRun(Base):
    """A backend scored on a simulated (or real) set by the evaluation harness; results hold counts."""

    __tablename__ = "evaluation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    backend: Mapped[str] = mapped_column(String(64))
    set_name: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- fairness ------------------------------------------------------------------------------------


class EvaluationSet(Base):
    __tablename__ = "evaluation_sets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(Text, default="")
    attribution: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    speakers: Mapped[list[Speaker]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    analyses: Mapped[list[Analysis]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Speaker(Base):
    __tablename__ = "speakers"
    __table_args__ = (UniqueConstraint("set_id", "speaker_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sets.id", ondelete="CASCADE"), index=True)
    speaker_key: Mapped[str] = mapped_column(String(128))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    place: Mapped[str | None] = mapped_column(String(256))
    zip: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32 vector


class Utterance(Base):
    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("set_id", "utterance_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sets.id", ondelete="CASCADE"))
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), index=True)
    utterance_key: Mapped[str] = mapped_column(String(256))
    reference: Mapped[str] = mapped_column(Text)
    hypothesis: Mapped[str] = mapped_column(Text)
    substitutions: Mapped[int]
    deletions: Mapped[int]
    insertions: Mapped[int]
    ref_words: Mapped[int]


class Analysis(Base):
    """A stored regions or cohorts analysis: parameters and metric definitions beside the numbers."""

    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # regions | cohorts
    method: Mapped[str] = mapped_column(String(32), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    definitions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    regions: Mapped[list[Region]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Region.rank"
    )
    cohorts: Mapped[list[Cohort]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Region(Base):
    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    errors: Mapped[int]
    ref_words: Mapped[int]
    wer: Mapped[float]
    ci_low: Mapped[float]
    ci_high: Mapped[float]
    n_speakers: Mapped[int]
    polygon: Mapped[dict[str, Any]] = mapped_column(default=dict)  # GeoJSON geometry
    bounds: Mapped[list[Any]] = mapped_column(default=list)  # [lon_min, lat_min, lon_max, lat_max]
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    speaker_ids: Mapped[list[Any]] = mapped_column(default=list)


class Cohort(Base):
    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(256))
    definition: Mapped[str] = mapped_column(Text, default="")
    errors: Mapped[int]
    ref_words: Mapped[int]
    wer: Mapped[float]
    ci_low: Mapped[float]
    ci_high: Mapped[float]
    n_speakers: Mapped[int]
    share_pct: Mapped[float]
    is_bottom: Mapped[bool] = mapped_column(Boolean, default=False)
    wer_gap_pct: Mapped[float | None]
    small: Mapped[bool] = mapped_column(Boolean, default=False)

    members: Mapped[list[CohortMember]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class CohortMember(Base):
    __tablename__ = "cohort_members"
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    speaker_id: Mapped[int] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True)


class Experiment(Base):
    """A mitigation experiment (EWC, ARW): its parameters (enough to rerun it) and its result counts."""

    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    set_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_sets.id", ondelete="SET NULL"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="done")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- batches (the Ray runner's fan-out; see engine/runners/) ---------------------------------------


class BatchShard(Base):
    """One shard of a batch job: a few items run together on one worker. A retried shard is the same row."""

    __tablename__ = "batch_shards"
    __table_args__ = (UniqueConstraint("job_id", "shard"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard: Mapped[int]
    items: Mapped[list[Any]] = mapped_column(default=list)  # the item keys, in order
    n_items: Mapped[int] = mapped_column(Integer, default=0)  # len(items), so progress is one aggregate query
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    worker_pid: Mapped[int | None]
    audio_s: Mapped[float] = mapped_column(Float, default=0.0)
    compute_s: Mapped[float] = mapped_column(Float, default=0.0)  # the work itself, measured in the worker
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BatchItem(Base):
    """The result of one item (a recording, an utterance, a meeting) of a batch job; one row per item."""

    __tablename__ = "batch_items"
    __table_args__ = (UniqueConstraint("job_id", "item_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard: Mapped[int]
    item_key: Mapped[str] = mapped_column(String(512))
    audio_s: Mapped[float] = mapped_column(Float, default=0.0)
    compute_s: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
