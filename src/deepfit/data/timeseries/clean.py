"""Reading time series out of a table: which columns are what, then per series sort, de-duplicate and fill.

Used twice with the same rules: on the training data (with a report of what was found) and on the raw
input of ``deepfit predict``, so a forecast sees its input cleaned as the training series were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import TimeSeriesConfig
from deepfit.errors import DataError, DataWarning, did_you_mean

TIME_NAMES = ("time", "timestamp", "date", "datetime", "ds")  # time_column unset: the first column so named


@dataclass
class SeriesLayout:
    time: str | None  # None: the row order is the time
    series: str | None  # None: one series
    values: list[str]  # what the model reads, targets included
    targets: list[str]  # what it forecasts


def where(frame: pd.DataFrame, labels: Any, limit: int = 5) -> str:
    """``line 7, 9`` of a CSV (header = line 1) or ``row 6, 8`` of a frame, for the first ``limit`` labels."""
    offset = frame.attrs.get("line_offset")
    labels = [int(label) for label in list(labels)[:limit]]
    if offset is None:
        return ("row " if len(labels) == 1 else "rows ") + ", ".join(str(i + 1) for i in labels)
    return ("line " if len(labels) == 1 else "lines ") + ", ".join(str(i + offset) for i in labels)


def source_name(frame: pd.DataFrame, default: str = "the data") -> str:
    return frame.attrs.get("path", default)


def require_column(frame: pd.DataFrame, column: str, key: str, source: str) -> None:
    if column not in frame.columns:
        raise DataError(
            f"{key}: column '{column}' is not in {source}{did_you_mean(column, frame.columns)}",
            hint=f"the columns are: {', '.join(map(str, frame.columns[:20]))}",
        )


def numeric_frame(frame: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """The columns as float64; a cell that is neither a number nor empty is an error naming its line.

    A ±inf cell is missing (filled as missing values are), named in a ``DataWarning``.
    """
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce") if raw.dtype != bool else raw.astype(float)
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            examples = ", ".join(repr(v) for v in raw[bad].head(3))
            raise DataError(
                f"column '{column}' of {source} holds a non-numeric value ({examples}) "
                f"at {where(frame, raw.index[bad])}",
                hint="fix or empty those cells (empty cells are filled as data.timeseries.missing says)",
            )
        values = values.astype(np.float64)
        infinite = np.isinf(values)
        if infinite.any():
            warnings.warn(
                f"column '{column}' of {source} holds {int(infinite.sum())} infinite values "
                f"at {where(frame, raw.index[infinite])}; treated as missing (filled as missing values are)",
                DataWarning,
                stacklevel=2,
            )
            values = values.mask(infinite)
        out[column] = values
    return out


def mostly_numeric(values: pd.Series) -> bool:
    present = values.dropna()
    if values.dtype == bool or len(present) == 0:
        return False
    # Half numbers is enough: a value column with stray text is then reported cell by cell, not silently unused.
    return pd.api.types.is_numeric_dtype(present) or pd.to_numeric(present, errors="coerce").notna().mean() >= 0.5


def resolve_layout(frame: pd.DataFrame, config: TimeSeriesConfig, source: str) -> SeriesLayout:
    """The time, series, value and target columns: the config's, checked, or found in the frame."""
    time = config.time_column
    if time is None:
        named = [c for c in frame.columns if str(c).lower() in TIME_NAMES]
        dated = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        time = (named or dated or [None])[0]
    for key, column in (("time_column", time), ("series_column", config.series_column)):
        if column is not None:
            require_column(frame, column, f"data.timeseries.{key}", source)
    exclude = {time, config.series_column}
    named_targets = config.target_columns or []
    values = config.value_columns or [
        c for c in frame.columns if c not in exclude and c not in named_targets and mostly_numeric(frame[c])
    ]
    targets = config.target_columns or list(values)
    values = [*values, *(t for t in targets if t not in values)]  # a forecast target is also an input
    if not values:
        raise DataError(
            f"{source} has no numeric column to forecast",
            hint="name the series' columns in data.timeseries.value_columns",
        )
    for key, columns in (("value_columns", values), ("target_columns", targets)):
        for column in columns:
            require_column(frame, column, f"data.timeseries.{key}", source)
            if column in exclude:
                raise DataError(f"data.timeseries.{key}: '{column}' is the time or series column, not a value")
    return SeriesLayout(time, config.series_column, values, targets)


def parse_time(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Numbers stay numbers; anything else is parsed as dates. An unreadable timestamp names its line."""
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_datetime64_any_dtype(raw):
        return raw
    parsed = pd.to_datetime(raw, errors="coerce")
    if (parsed.isna() & raw.notna()).any():  # several formats in one column: slower, per-value parsing
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].head(3))
        raise DataError(
            f"time column '{column}' of {source} holds values that are not dates or numbers ({examples}) "
            f"at {where(frame, raw.index[bad])}",
            hint="fix those cells, or name the right column in data.timeseries.time_column",
        )
    return parsed


def split_series(
    frame: pd.DataFrame, layout: SeriesLayout, missing: str, source: str
) -> tuple[list[tuple[Any, pd.DataFrame]], dict[str, Any]]:
    """Each series as a clean frame (time and value columns, time ascending), and what cleaning found."""
    facts: dict[str, Any] = {"rows_without_time": 0, "unsorted_series": 0, "duplicate_timestamps": 0}
    facts |= {"duplicate_lines": [], "missing_timestamps": 0, "irregular_series": 0, "missing_values": {}}
    table = numeric_frame(frame, layout.values, source)
    if layout.time is not None:
        table.insert(0, layout.time, parse_time(frame, layout.time, source))
        no_time = table[layout.time].isna()
        facts["rows_without_time"] = int(no_time.sum())
        table = table.loc[~no_time]
    if layout.series is None:
        groups = [(None, table)]
    else:
        keys = frame.loc[table.index, layout.series]
        groups = [(key, part) for key, part in table.groupby(keys, sort=False, dropna=False)]
    series = []
    for key, part in groups:
        part.attrs = frame.attrs  # for line numbers
        series.append((key, clean_series(part, layout, missing, facts)))
    return series, facts


def clean_series(part: pd.DataFrame, layout: SeriesLayout, missing: str, facts: dict[str, Any]) -> pd.DataFrame:
    """Sort by time, drop repeated timestamps, insert missing ones on a regular grid, fill missing values."""
    time = layout.time
    for column in layout.values:  # cells empty in the file (the timestamps filled in below are counted apart)
        count = int(part[column].isna().sum())
        if count == len(part):
            raise DataError(f"value column '{column}' is empty in a series", hint="check the column and the file")
        if count:
            facts["missing_values"][column] = facts["missing_values"].get(column, 0) + count
    if time is not None:
        if not part[time].is_monotonic_increasing:
            facts["unsorted_series"] += 1
            part = part.sort_values(time, kind="stable")
        repeated = part[time].duplicated(keep="first")
        facts["duplicate_timestamps"] += int(repeated.sum())
        facts["duplicate_lines"].extend(part.index[repeated][:10].tolist())
        part = part.loc[~repeated]
        if missing != "drop":
            part = _regular_grid(part, time, facts)
    part = part.reset_index(drop=True)
    if missing == "drop":
        return part.dropna(subset=layout.values).reset_index(drop=True)
    values = part[layout.values]
    # The first points have nothing before them to carry forward: they take the first observed value.
    filled = values.ffill() if missing == "ffill" else values.interpolate(limit_direction="forward")
    part[layout.values] = filled.bfill()
    return part


def _regular_grid(part: pd.DataFrame, time: str, facts: dict[str, Any]) -> pd.DataFrame:
    """Rows for the timestamps missing from a regular series (their values missing, to be filled)."""
    t = part[time]
    if len(t) < 3:
        return part
    step = t.diff().iloc[1:].median()
    position = ((t - t.iloc[0]) / step).to_numpy(dtype=np.float64)
    if not np.allclose(position, np.round(position)) or step == 0:
        facts["irregular_series"] += 1  # no grid to fill in: the points are used as they come
        return part
    n = round(float(position[-1])) + 1
    if n == len(part):
        return part
    facts["missing_timestamps"] += n - len(part)
    if isinstance(step, pd.Timedelta):
        grid = pd.Series(pd.date_range(t.iloc[0], periods=n, freq=step)).astype(t.dtype)
    else:
        grid = pd.Series(t.iloc[0] + step * np.arange(n)).astype(t.dtype)
    return pd.DataFrame({time: grid}).merge(part, on=time, how="left")


def synthetic_series(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """``builtin:synthetic_series``: hourly points of trend + daily and weekly seasons + noise, seeded.

    value = 20 + 0.002 t + 3 sin(2πt/24) + 1.5 sin(2πt/168) + N(0, 0.3²)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    value = 20 + 0.002 * t + 3 * np.sin(2 * np.pi * t / 24) + 1.5 * np.sin(2 * np.pi * t / 168)
    value = value + rng.normal(0, 0.3, n)
    return pd.DataFrame({"time": pd.date_range("2024-01-01", periods=n, freq="h"), "value": value.round(4)})
