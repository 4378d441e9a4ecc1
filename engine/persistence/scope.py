"""The configured database for engine code: db's session scope and migrations on config.database_url().

`db` takes every URL from its caller; this is where the engine supplies its default (a `url` given by a
test or tool wins).

    with persistence.session_scope() as s:   # one unit of work: commits once, or rolls everything back
        ...
    persistence.transact(persistence.fail_job, job_id, "…")   # a write that is a whole action by itself
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

import db
from engine import config

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    with db.session_scope(url or config.database_url()) as session:
        yield session


def ensure_schema(url: str | None = None) -> None:
    """Create or upgrade the schema (idempotent): for command-line tools that may meet a fresh database."""
    db.init_db(url or config.database_url())


def transact(write: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`write(session, *args, **kwargs)` as a unit of work by itself, on the configured database: for a write
    that is a whole action (a worker's report on its job), where a `with session_scope()` block would hold
    nothing else."""
    with session_scope() as s:
        return write(s, *args, **kwargs)
