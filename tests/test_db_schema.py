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
        rec = Recording(sha256="a" * 64, filename="x.wav", size_bytes=10, duration_s=1.0,
                        source_sample_rate=16000, source_channels=1)
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
