"""The configured database for engine code: db's session scope and migrations on config.database_url().

`db` takes every URL from its caller; this is where the engine supplies its default (a `url` given by a
test or tool wins).

    with persistence.session_scope() as s:   # one unit of work: commits once, or rolls everything back
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

import db
from engine import config


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    with db.session_scope(url or config.database_url()) as session:
        yield session


def ensure_schema(url: str | None = None) -> None:
    """Create or upgrade the schema (idempotent): for command-line tools that may meet a fresh database."""
    db.init_db(url or config.database_url())
