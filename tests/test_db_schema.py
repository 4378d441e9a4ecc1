"""The migrations build the schema that the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from db import get_engine, init_db, session_scope
from db.models import Base, Recording, TranscriptionRun, TurnRow


def _check_schema_and_cascade(url: str) -> None:
    engine = get_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    init_db(url)  # idempotent: running migrations again changes nothing
    with session_scope(url) as s:
        rec = Recording(
            sha256="a" * 64,
            filename="x.wav",
            size_bytes=10,
            duration_s=1.0,
            source_sample_rate=16000,
            source_channels=1,
        )
        rec.runs.append(TranscriptionRun(backend="cascade", turns=[TurnRow(speaker="A", start=0, end=1, text="hi")]))
        s.add(rec)
    with session_scope(url) as s:
        # Delete through SQL, not the ORM, so the database's own ON DELETE CASCADE is what removes children.
        s.execute(text("DELETE FROM recordings"))
    with session_scope(url) as s:
        assert s.query(TranscriptionRun).count() == 0
        assert s.query(TurnRow).count() == 0


def test_sqlite_schema_pragmas_and_cascade(db_url):
    with get_engine(db_url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    _check_schema_and_cascade(db_url)


@pytest.mark.postgres
def test_postgres_schema_and_cascade(postgres_url):
    _check_schema_and_cascade(postgres_url)


def test_ids_are_never_reused_after_a_delete(db_url):
    """An old link (?run=N) must never open a newer recording: SQLite AUTOINCREMENT (migration 0004)."""

    def add(sha: str) -> tuple[int, int]:
        with session_scope(db_url) as s:
            rec = Recording(
                sha256=sha * 64,
                filename=f"{sha}.wav",
                size_bytes=1,
                duration_s=1.0,
                source_sample_rate=16000,
                source_channels=1,
            )
            rec.runs.append(TranscriptionRun(backend="cascade"))
            s.add(rec)
            s.flush()
            return rec.id, rec.runs[0].id

    first = add("a")
    with session_scope(db_url) as s:
        s.execute(text("DELETE FROM recordings"))  # the newest (and only) rows go
    second = add("b")
    assert second[0] > first[0] and second[1] > first[1]


def test_the_id_migration_keeps_every_row_and_reference(data_dir):
    """Upgrading a database with rows to 0004 copies the tables without losing a row or a foreign key."""
    from alembic import command

    from db.session import alembic_config
    from engine import config

    url = config.database_url()
    engine = get_engine(url)
    command.upgrade(alembic_config(engine), "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO recordings (id, sha256, filename, size_bytes, duration_s, source_sample_rate, "
                "source_channels, is_demo, created_at) VALUES (7, 'x', 'x.wav', 1, 1.0, 16000, 1, 0, '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO jobs (id, kind, params, status, progress, message, created_at) "
                "VALUES (3, 'transcribe', '{}', 'done', 1.0, '', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO transcription_runs (id, recording_id, job_id, backend, params, status, created_at) "
                "VALUES (5, 7, 3, 'cascade', '{}', 'done', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                'INSERT INTO turns (run_id, speaker, start, "end", text, words, unterminated) '
                "VALUES (5, 'S1', 0.0, 1.0, 'hello', '[]', 0)"
            )
        )
    init_db(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT recording_id, job_id FROM transcription_runs")).all() == [(7, 3)]
        assert conn.execute(text("SELECT count(*) FROM turns WHERE run_id = 5")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert "AUTOINCREMENT" in conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'recordings'")).scalar()
    with session_scope(url) as s:  # the delete still cascades through the copied tables
        s.execute(text("DELETE FROM recordings"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM turns")).scalar() == 0
