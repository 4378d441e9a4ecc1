"""Mitigation experiments (engine/mitigation): stored with enough parameters to rerun them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, defer

from db.models import EvaluationSet, Experiment
from engine.errors import UserError
from engine.persistence.scope import session_scope


@dataclass(frozen=True)
class ExperimentInfo:
    id: int
    kind: str  # ewc | arw
    name: str
    set_name: str | None
    params: dict[str, Any]  # enough to rerun the experiment (python -m engine mitigate rerun ID)
    results: dict[str, Any]  # counts beside rates
    created_at: datetime


def _experiment_info(row: Experiment, set_name: str | None, with_results: bool = True) -> ExperimentInfo:
    return ExperimentInfo(
        row.id,
        row.kind,
        row.name,
        set_name,
        dict(row.params),
        dict(row.results) if with_results else {},
        row.created_at,
    )


def save_experiment(
    s: Session, kind: str, name: str, params: dict[str, Any], results: dict[str, Any], set_name: str | None = None
) -> int:
    """Store a finished experiment (one row, never half-written); returns its id."""
    set_id = s.scalar(select(EvaluationSet.id).where(EvaluationSet.name == set_name)) if set_name else None
    row = Experiment(kind=kind, name=name, set_id=set_id, params=params, results=results, status="done")
    s.add(row)
    s.flush()
    return row.id


def list_experiments(
    kind: str | None = None, url: str | None = None, with_results: bool = True
) -> list[ExperimentInfo]:
    """Newest first. Without results (`results` is {}), the listing never reads the large results JSON."""
    with session_scope(url) as s:
        query = (
            select(Experiment, EvaluationSet.name)
            .outerjoin(EvaluationSet, EvaluationSet.id == Experiment.set_id)
            .order_by(Experiment.created_at.desc(), Experiment.id.desc())
        )
        if not with_results:
            query = query.options(defer(Experiment.results))
        if kind:
            query = query.where(Experiment.kind == kind)
        return [_experiment_info(row, set_name, with_results) for row, set_name in s.execute(query)]


def get_experiment(experiment_id: int, url: str | None = None) -> ExperimentInfo:
    with session_scope(url) as s:
        row = s.get(Experiment, experiment_id)
        if row is None:
            raise UserError(f"There is no experiment {experiment_id}.")
        set_name = s.scalar(select(EvaluationSet.name).where(EvaluationSet.id == row.set_id)) if row.set_id else None
        return _experiment_info(row, set_name)


def delete_experiment(s: Session, experiment_id: int) -> None:
    s.execute(delete(Experiment).where(Experiment.id == experiment_id))
