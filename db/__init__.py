"""Persistence: SQLAlchemy 2.0 models, one session scope, Alembic migrations applied at start."""

from db.session import get_engine, init_db, session_scope

__all__ = ["get_engine", "init_db", "session_scope"]
