"""Engine creation, SQLite pragmas, migrations at start, and the one session scope, for a URL the caller gives.

from db import init_db, session_scope
init_db(url)                   # creates/upgrades the schema (Alembic), idempotent
with session_scope(url) as s:  # commits on success, rolls back on any exception
    s.add(...)

The storage layer knows no defaults: the engine resolves the configured URL (engine.persistence.scope).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the worker process write while pages read; foreign keys make deletes cascade;
    # the busy timeout turns brief writer contention into a wait instead of an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@lru_cache(maxsize=32)
def get_engine(url: str) -> Engine:
    """One engine per URL per process (the app wraps this in st.cache_resource)."""
    return make_engine(url)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def init_db(url: str) -> Engine:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    engine = get_engine(url)
    command.upgrade(alembic_config(engine), "head")
    return engine


@lru_cache(maxsize=8)
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    session = _sessionmaker(get_engine(url))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
