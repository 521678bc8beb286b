"""Infer what each column is (numeric, categorical, boolean, date, text, identifier) and what the task is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import DataConfig
from deepfit.data.dates import as_numbers, detect_format, parse_dates, unreadable
from deepfit.data.words import is_free_text
from deepfit.errors import DataError, did_you_mean

_BOOL_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|^index$", re.IGNORECASE)
MAX_CLASSES_FOR_INTEGER_TARGET = 30


@dataclass
class Schema:
    target: str
    task: str
    kinds: dict[str, str]  # feature column -> numeric | categorical | boolean | date | text
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    unparseable: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> cells that are not numbers
    infinite: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> ±inf cells (made missing)
    date_formats: dict[str, str] = field(default_factory=dict)  # date column -> format it is read with

    @property
    def features(self) -> list[str]:
        return list(self.kinds)


def resolve_target(frame: pd.DataFrame, config: DataConfig, source: str | None) -> str:
    target = config.target
    arrays = frame.attrs.get("npz_arrays")
    if arrays is not None and "target" not in frame.columns and target in (None, "target"):
        raise DataError(
            f"{frame.attrs.get('path', source)} has no labels: expected an array named 'y' beside 'X'; "
            f"found {', '.join(arrays)}",
            hint="save the labels with numpy.savez(path, X=X, y=y)",
        )
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
    candidates = config.features or [c for c in frame.columns if c != target]
    missing = [c for c in candidates + list(config.column_types) + config.drop_columns if c not in frame.columns]
    if missing:
        col = missing[0]
        raise DataError(
            f"column '{col}' named in the config is not in the data{did_you_mean(col, frame.columns)}",
            hint=f"the columns are: {_list(frame.columns)}",
        )
    _refuse_nested(frame, target, [*(config.features or []), *config.column_types], _source(frame))
    _refuse_date_target(frame[target], target, _source(frame))
    task = config.task if config.task != "auto" else infer_task(frame[target])
    schema = Schema(target=target, task=task, kinds={})
    for column in candidates:
        if column in config.drop_columns:
            schema.dropped[column] = "listed in data.drop_columns"
            continue
        nested = nested_type(frame[column])
        if nested is not None:  # only reached for columns the config does not name
            schema.dropped[column] = f"holds {nested}, which cannot be a feature"
            continue
        kind = config.column_types.get(column) or infer_kind(frame[column], column)
        if kind == "date":
            schema.date_formats[column] = _date_format(frame[column], column, column in config.column_types)
        elif (
            kind != "text"
            and column not in config.column_types
            and config.features is None
            and is_identifier(frame[column], column)
        ):
            schema.dropped[column] = "identifier-like (a distinct value on nearly every row)"
            continue
        schema.kinds[column] = kind
    return schema


def nested_type(column: pd.Series) -> str | None:
    """``"lists"`` or ``"structs"`` when a column (of a Parquet file, a frame) holds nested values, else None."""
    if column.dtype != object:
        return None
    kinds = {type(v) for v in column.dropna().head(1000)}
    if kinds & {list, tuple, set, np.ndarray}:
        return "lists"
    return "structs" if dict in kinds else None


def _refuse_nested(frame: pd.DataFrame, target: str, named: list[str], source: str) -> None:
    """The target or a column the config names as a feature may not hold lists or structs."""
    nested = {c: nested_type(frame[c]) for c in dict.fromkeys([target, *named])}
    nested = {c: kind for c, kind in nested.items() if kind}
    if not nested:
        return
    which = ", ".join(f"'{c}' ({kind})" for c, kind in nested.items())
    if target in nested:
        raise DataError(
            f"the target column '{target}' of {source} holds {nested[target]}, not one value per row",
            hint="choose a target column with one label or number per row (data.target)",
        )
    raise DataError(
        f"columns of {source} named in data.features or data.column_types hold nested values: {which}",
        hint="remove them from data.features / data.column_types (unlisted nested columns are left out)",
    )


def _refuse_date_target(target: pd.Series, name: str, source: str) -> None:
    """Dates (a datetime dtype, or strings that read as dates) are no label: neither classes nor a number."""
    if pd.api.types.is_numeric_dtype(target) or target.dtype == bool or detect_format(target) is None:
        return
    raise DataError(
        f"the target column '{name}' of {source} holds dates (such as {str(target.dropna().iloc[0])!r}), "
        "which deepfit cannot predict",
        hint="predict a number derived from the date instead (for example days until an event), "
        "or use the date as a feature",
    )


def _date_format(column: pd.Series, name: str, forced: bool) -> str:
    """The format a date column is read with; a column data.column_types calls date must read as dates."""
    fmt = detect_format(column, name, forced=forced)
    if fmt is None:
        examples = ", ".join(repr(str(v)) for v in column.dropna().unique()[:3])
        raise DataError(
            f"column '{name}' is set to date in data.column_types, but its values do not read as dates ({examples})",
            hint="use ISO dates (2024-03-01, 2024-03-01 12:30), 03/01/2024, 1 Mar 2024 or epoch seconds, "
            "or give the column another kind",
        )
    return fmt


def _source(frame: pd.DataFrame) -> str:
    return str(frame.attrs.get("path", "the data"))


def infer_task(target: pd.Series) -> str:
    values = target.dropna()
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        return "classification"
    numbers = values.to_numpy(dtype=float)
    integral = np.all(np.mod(numbers[np.isfinite(numbers)], 1) == 0)
    return "classification" if integral and values.nunique() <= MAX_CLASSES_FOR_INTEGER_TARGET else "regression"


def infer_kind(column: pd.Series, name: Any = "") -> str:
    """numeric, boolean, date, text (free text: several words, mostly distinct) or categorical.

    Numbers are dates only as epochs in a column whose ``name`` says date or time (``dates.detect_format``).
    """
    values = column.dropna()
    if values.dtype == bool:
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    if pd.api.types.is_numeric_dtype(values):
        if values.isin((0, 1)).all() and values.nunique() == 2:  # not set(unique): a Python float per value
            return "boolean"
        return "date" if detect_format(values, name) else "numeric"
    as_text = values.astype(str).str.strip().str.lower()
    if as_text.nunique() == 2 and set(as_text.unique()) <= _BOOL_WORDS:
        return "boolean"
    parsed = as_numbers(values)
    # Mostly numbers with a few stray strings ("n/a", "12,5", "?"): a numeric column with bad cells.
    if len(values) and parsed.notna().mean() >= 0.9:
        return "date" if detect_format(values, name) else "numeric"
    if detect_format(values, name):
        return "date"
    return "text" if is_free_text(values) else "categorical"


def is_identifier(column: pd.Series, name: str) -> bool:
    """A key rather than a feature: (nearly) a distinct value per row. Duplicated rows repeat their id,
    so text counts from 95 % distinct; whole numbers need an id-like name or consecutive values too."""
    values = column.dropna()
    if len(values) < 20 or values.dtype == bool:
        return False
    if not pd.api.types.is_numeric_dtype(values):
        parsed = as_numbers(values)
        if parsed.notna().mean() < 0.9:  # text
            return values.nunique() / len(values) >= 0.95
        values = parsed.dropna()  # numbers stored as text, judged as numbers
    numbers = values.to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]  # ±inf: cells made missing later, not identifiers
    if not np.all(np.mod(numbers, 1) == 0):
        return False  # continuous measurements are distinct too
    distinct = len(np.unique(numbers)) / len(numbers)
    consecutive = bool(np.all(np.diff(np.unique(numbers)) == 1))
    return distinct >= 0.95 and (bool(_ID_NAME.search(str(name))) or consecutive)


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``raw`` as floats, ±inf made missing, with masks of the cells that are text (not numbers) and infinite.

    An empty or blank cell is missing, not text. Used on the training data and on the input of a prediction,
    so both name the same cells.
    """
    if pd.api.types.is_numeric_dtype(raw):
        parsed = raw.astype(float)
        text = pd.Series(False, index=raw.index)
    else:
        parsed = as_numbers(raw).astype(float)
        text = raw.notna() & parsed.isna() & (raw.astype(str).str.strip() != "")
    infinite = pd.Series(np.isinf(parsed.to_numpy()), index=raw.index)
    return (parsed.mask(infinite) if infinite.any() else parsed), text, infinite


def cells(frame: pd.DataFrame, mask: Any, column: str, line_offset: int | None) -> dict[str, Any]:
    """The cells of ``column`` where ``mask`` (one bool per row) is true: count, a few values and where they are.

    Where: file lines of a CSV (``line_offset``: row label + offset; rows filtered out keep their line), else
    1-based rows of ``frame``.
    """
    found = np.flatnonzero(np.asarray(mask, dtype=bool))
    if line_offset is None:
        where = {"rows": [int(i) + 1 for i in found[:10]]}
    else:
        where = {"lines": [int(label) + line_offset for label in frame.index[found[:10]]]}
    return {"count": len(found), **where, "values": [str(v) for v in frame[column].iloc[found[:5]]]}


def positions(info: dict[str, Any]) -> str:
    """``lines 3, 7`` of a CSV or ``rows 2, 6`` of a frame (the first ten), from a :func:`cells` record."""
    key = "lines" if "lines" in info else "rows"
    shown = info[key]
    more = f" and {info['count'] - len(shown)} more" if info["count"] > len(shown) else ""
    return f"{key if len(shown) > 1 else key[:-1]} {', '.join(map(str, shown))}{more}"


def coerce_numeric(frame: pd.DataFrame, schema: Schema, line_offset: int | None) -> pd.DataFrame:
    """Turn numeric columns into floats and date columns into (UTC) datetimes; name every unparseable and
    infinite cell in ``schema``.

    Such cells become missing, so ``data.clean.missing`` decides what happens to them (impute or drop). The
    other columns are shared with ``frame``, not copied (pandas copies a column on write).
    """
    frame = frame.copy(deep=False)
    for column, fmt in schema.date_formats.items():
        dates = parse_dates(frame[column], fmt)
        bad = unreadable(frame[column], dates)
        if bad.any():
            schema.unparseable[column] = {**cells(frame, bad, column, line_offset), "expected": "dates"}
        frame[column] = dates
    for column, kind in schema.kinds.items():
        if kind != "numeric":
            continue
        parsed, text, infinite = parse_numbers(frame[column])
        if text.any():
            schema.unparseable[column] = cells(frame, text, column, line_offset)
        if infinite.any():
            schema.infinite[column] = cells(frame, infinite, column, line_offset)
        frame[column] = parsed
    return frame


def _list(columns: Any, limit: int = 20) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")
