"""Read an evaluation-set table (CSV, Parquet, JSONL) and check its schema.

Required columns: utterance_id, speaker_id, reference, hypothesis. Optional per-speaker location: lat and
lon, or place (free text), or zip. Optional `embedding` (a list of numbers, or numbers separated by
spaces/commas in CSV). Every other column is a per-speaker demographic attribute. A problem is reported
as one sentence naming the row (1-based data row) and the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import UserError

REQUIRED = ("utterance_id", "speaker_id", "reference", "hypothesis")
LOCATION = ("lat", "lon", "place", "zip")
EMBEDDING = "embedding"
# Columns with a meaning of their own; all others are demographic attributes of the speaker.
RESERVED = (*REQUIRED, *LOCATION, EMBEDDING, "audio")
READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """The checked table of a file (UserError on any problem)."""
    return check_schema(load_raw(path))


def load_raw(path: str | Path) -> pd.DataFrame:
    """The file's rows as read, before any check."""
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path.name} is not a CSV, Parquet or JSONL file (expected one of {', '.join(READERS)}).")
    if not path.is_file():
        raise UserError(f"{path} does not exist.")
    try:
        if kind == "csv":
            # Everything as text first: "NA" is a word a reference may contain, not a missing value.
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif kind == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_json(path, lines=True, dtype=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UserError(f"{path.name} could not be read as {kind.upper()}: {str(exc).splitlines()[0]}") from exc
    return df


def _fail_at(mask: np.ndarray, column: str, problem: str) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0]) + 1
        raise UserError(f"Row {row}, column '{column}': {problem}.")


def _text_column(df: pd.DataFrame, column: str, allow_empty: bool) -> pd.Series:
    values = df[column]
    missing = values.isna().to_numpy()
    _fail_at(missing, column, "value is missing")
    text = values.astype(str)
    if not allow_empty:
        _fail_at((text.str.strip() == "").to_numpy(), column, "value is empty")
    return text


def _numeric(df: pd.DataFrame, column: str, low: float, high: float) -> pd.Series:
    raw = df[column]
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    number = pd.to_numeric(raw.where(~blank), errors="coerce")
    bad = (number.isna() & ~blank).to_numpy()
    if bad.any():
        _fail_at(bad, column, f"'{raw[bad].iloc[0]}' is not a number")
    _fail_at(((number < low) | (number > high)).to_numpy(), column, f"must lie between {low:g} and {high:g}")
    return number.astype(float)


def _parse_embedding(value) -> np.ndarray | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        value = value.replace(",", " ").replace("[", " ").replace("]", " ").split()
    return np.asarray(value, dtype=np.float32)


def _check_embeddings(df: pd.DataFrame) -> pd.Series:
    parsed, dim = [], None
    for i, value in enumerate(df[EMBEDDING].tolist()):
        try:
            vec = _parse_embedding(value)
        except (TypeError, ValueError):
            raise UserError(f"Row {i + 1}, column '{EMBEDDING}': not a list of numbers.") from None
        if vec is not None:
            if vec.ndim != 1 or len(vec) == 0 or not np.isfinite(vec).all():
                raise UserError(f"Row {i + 1}, column '{EMBEDDING}': not a list of finite numbers.")
            dim = dim or len(vec)
            if len(vec) != dim:
                raise UserError(f"Row {i + 1}, column '{EMBEDDING}': {len(vec)} numbers where earlier rows have {dim}.")
        parsed.append(vec)
    return pd.Series(parsed, index=df.index, dtype=object)


def _check_per_speaker(df: pd.DataFrame, column: str) -> None:
    """A speaker's location and attributes are one value each; rows that disagree are named."""
    values = df[column].astype(str).where(df[column].notna(), "")
    first = values.groupby(df["speaker_id"]).transform("first")
    bad = (values != first).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        speaker = df["speaker_id"].iloc[row]
        raise UserError(
            f"Row {row + 1}, column '{column}': speaker '{speaker}' already has "
            f"'{first.iloc[row]}' in an earlier row, and a speaker has one value."
        )


def check_schema(df: pd.DataFrame) -> pd.DataFrame:
    """The checked table: ids and texts as str, lat/lon as float, embeddings parsed; otherwise UserError."""
    df = df.reset_index(drop=True).copy()
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise UserError(
            f"{'Column' if len(missing) == 1 else 'Columns'} {names} {'is' if len(missing) == 1 else 'are'} "
            f"missing; an evaluation set needs {', '.join(REQUIRED)}."
        )
    if df.empty:
        raise UserError("The table has no rows.")
    for column in ("utterance_id", "speaker_id"):
        df[column] = _text_column(df, column, allow_empty=False).str.strip()
    for column in ("reference", "hypothesis"):
        df[column] = _text_column(df, column, allow_empty=column == "hypothesis")
    duplicate = df["utterance_id"].duplicated().to_numpy()
    _fail_at(duplicate, "utterance_id", "this id appears in an earlier row; utterance ids must be unique")
    if ("lat" in df.columns) != ("lon" in df.columns):
        raise UserError("Columns 'lat' and 'lon' come together; the table has only one of them.")
    if "lat" in df.columns:
        df["lat"] = _numeric(df, "lat", -90, 90)
        df["lon"] = _numeric(df, "lon", -180, 180)
        _fail_at(
            (df["lat"].isna() != df["lon"].isna()).to_numpy(),
            "lon" if df["lon"].isna().any() else "lat",
            "lat and lon must both be given or both be empty",
        )
    for column in ("place", "zip"):
        if column in df.columns:
            df[column] = df[column].astype(str).where(df[column].notna(), "").str.strip()
    if EMBEDDING in df.columns:
        df[EMBEDDING] = _check_embeddings(df)
    for column in df.columns:
        if column not in (*REQUIRED, EMBEDDING, "audio"):
            _check_per_speaker(df, column)
    return df


def attribute_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in RESERVED]
