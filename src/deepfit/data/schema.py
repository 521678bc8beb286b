"""Infer what each column is (numeric, categorical, boolean, identifier) and what the task is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import DataConfig
from deepfit.errors import DataError, did_you_mean

_BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|^index$", re.IGNORECASE)
MAX_CLASSES_FOR_INTEGER_TARGET = 30


@dataclass
class Schema:
    target: str
    task: str
    kinds: dict[str, str]  # feature column -> numeric | categorical | boolean
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    unparseable: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.kinds)


def resolve_target(frame: pd.DataFrame, config: DataConfig, source: str | None) -> str:
    target = config.target
    if target is None:
        if (source and str(source).startswith("builtin:")) or "target" in frame.columns:
            target = "target"
        else:
            raise DataError(
                "data.target is not set",
                hint=f"name the label column; the columns are: {_list(frame.columns)}",
            )
    if target not in frame.columns:
        raise DataError(
            f"target column '{target}' is not in the data{did_you_mean(target, frame.columns)}",
            hint=f"the columns are: {_list(frame.columns)}",
        )
    return target


def infer_schema(frame: pd.DataFrame, config: DataConfig, target: str) -> Schema:
    """Decide the task and each feature's kind; overrides in ``config`` win over inference."""
    task = config.task if config.task != "auto" else infer_task(frame[target])
    candidates = config.features or [c for c in frame.columns if c != target]
    missing = [c for c in candidates + list(config.column_types) + config.drop_columns if c not in frame.columns]
    if missing:
        col = missing[0]
        raise DataError(
            f"column '{col}' named in the config is not in the data{did_you_mean(col, frame.columns)}",
            hint=f"the columns are: {_list(frame.columns)}",
        )
    schema = Schema(target=target, task=task, kinds={})
    for column in candidates:
        if column in config.drop_columns:
            schema.dropped[column] = "listed in data.drop_columns"
            continue
        kind = config.column_types.get(column) or infer_kind(frame[column])
        if column not in config.column_types and config.features is None and is_identifier(frame[column], column):
            schema.dropped[column] = "identifier-like (a distinct value on nearly every row)"
            continue
        schema.kinds[column] = kind
    return schema


def infer_task(target: pd.Series) -> str:
    values = target.dropna()
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    integral = np.all(np.mod(values.to_numpy(dtype=float), 1) == 0)
    return "classification" if integral and values.nunique() <= MAX_CLASSES_FOR_INTEGER_TARGET else "regression"


def infer_kind(column: pd.Series) -> str:
    values = column.dropna()
    if values.dtype == bool:
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "boolean" if set(values.unique()) <= {0, 1} and values.nunique() == 2 else "numeric"
    as_text = values.astype(str).str.strip().str.lower()
    if as_text.nunique() == 2 and set(as_text.unique()) <= _BOOL_WORDS:
        return "boolean"
    parsed = pd.to_numeric(values, errors="coerce")
    # Mostly numbers with a few stray strings ("n/a", "12,5", "?"): a numeric column with bad cells.
    if len(values) and parsed.notna().mean() >= 0.9:
        return "numeric"
    return "categorical"


def is_identifier(column: pd.Series, name: str) -> bool:
    """A key rather than a feature: (nearly) a distinct value per row. Duplicated rows repeat their id,
    so text counts from 95 % distinct; whole numbers need an id-like name or consecutive values too."""
    values = column.dropna()
    if len(values) < 20 or values.dtype == bool:
        return False
    if not pd.api.types.is_numeric_dtype(values):
        parsed = pd.to_numeric(values, errors="coerce")
        if parsed.notna().mean() < 0.9:  # text
            return values.nunique() / len(values) >= 0.95
        values = parsed.dropna()  # numbers stored as text, judged as numbers
    numbers = values.to_numpy(dtype=float)
    if not np.all(np.mod(numbers, 1) == 0):
        return False  # continuous measurements are distinct too
    distinct = len(np.unique(numbers)) / len(numbers)
    consecutive = bool(np.all(np.diff(np.unique(numbers)) == 1))
    return distinct >= 0.95 and (bool(_ID_NAME.search(str(name))) or consecutive)


def coerce_numeric(frame: pd.DataFrame, schema: Schema, line_offset: int | None) -> pd.DataFrame:
    """Turn numeric columns held as text into floats; name every unparseable cell in ``schema``."""
    frame = frame.copy()
    for column, kind in schema.kinds.items():
        if kind != "numeric" or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        parsed = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & parsed.isna()
        if bad.any():
            rows = frame.index[bad]
            schema.unparseable[column] = {
                "count": int(bad.sum()),
                "rows" if line_offset is None else "lines": [int(r) + (line_offset or 0) for r in rows[:10]],
                "values": [str(v) for v in frame.loc[rows[:5], column]],
            }
        frame[column] = parsed.astype(float)
    return frame


def _list(columns: Any, limit: int = 20) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")
