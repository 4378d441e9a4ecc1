"""Evaluation runs: scored runs of the harness (engine/evaluate.py), counts beside rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import EvaluationRun
from engine.errors import UserError
from engine.persistence.scope import session_scope


@dataclass(frozen=True)
class EvaluationRunInfo:
    id: int
    backend: str
    set_name: str
    params: dict[str, Any]
    results: dict[str, Any]
    created_at: datetime


def save_evaluation_run(
    s: Session, backend: str, set_name: str, params: dict[str, Any], results: dict[str, Any]
) -> int:
    """Store one scored run (results hold counts beside rates); returns its id."""
    row = EvaluationRun(backend=backend, set_name=set_name, params=params, results=results)
    s.add(row)
    s.flush()
    return row.id


def _info(row: EvaluationRun) -> EvaluationRunInfo:
    return EvaluationRunInfo(row.id, row.backend, row.set_name, row.params, row.results, row.created_at)


def get_evaluation_run(run_id: int, url: str | None = None) -> EvaluationRunInfo:
    with session_scope(url) as s:
        row = s.get(EvaluationRun, run_id)
        if row is None:
            raise UserError(f"There is no evaluation run {run_id}.")
        return _info(row)


def list_evaluation_runs(backend: str | None = None, url: str | None = None) -> list[EvaluationRunInfo]:
    """Newest first."""
    with session_scope(url) as s:
        query = select(EvaluationRun).order_by(EvaluationRun.created_at.desc(), EvaluationRun.id.desc())
        if backend:
            query = query.where(EvaluationRun.backend == backend)
        return [_info(r) for r in s.scalars(query)]
