"""Date and time columns of a table: detection, parsing with one format, expansion into numeric features.

A date column is found by its dtype (pandas datetime), by strings that all read with one format (ISO 8601,
``03/01/2024``, ``1 Mar 2024``, ...), or by epoch numbers in a column whose name says date/time/timestamp.
The format found on the whole table is saved with the model, so prediction parses raw input the same way.
Time-zone-aware values are converted to UTC; naive ones are taken as they are.

Each date becomes numbers (fitted on the training split): days elapsed since the training minimum, year,
month, day of week, day of year, hour when any time of day is present, sin/cos of month, day of week (and
hour), and a missing-date indicator when training dates are missing (then imputed as the training median).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

# Tried in order; the first that reads the most values wins (03/01/2024 is read month first when both do).
STRING_FORMATS = (
    "ISO8601",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d %b %Y",
    "%d %B %Y",
    "%d %b %Y %H:%M",
    "%b %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%m/%d/%y",
)
EPOCH_UNITS = {"epoch_s": "s", "epoch_ms": "ms"}
# Epoch numbers are dates only between 1980 and 2100, and only in a column named so.
_EPOCH_RANGE = {"epoch_s": (315_532_800, 4_102_444_800), "epoch_ms": (315_532_800_000, 4_102_444_800_000)}
_DATE_WORDS = {"date", "time", "timestamp", "datetime", "dt", "ts", "epoch"}
_MIN_PARSED = 0.9  # share of non-missing cells a format must read
_DAY = pd.Timedelta(days=1)
SCALED = ("days", "year", "month", "day_of_week", "day_of_year", "hour")  # standardised (fitted on train)


def as_numbers(values: pd.Series) -> pd.Series:
    """``pd.to_numeric(values, errors="coerce")``, parsing each distinct text once: a column of a few levels
    over millions of rows is parsed in a few calls, not millions (numbers are returned as they are)."""
    if pd.api.types.is_numeric_dtype(values) or values.dtype == bool:
        return pd.to_numeric(values, errors="coerce")
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    parsed = pd.to_numeric(pd.Series(uniques, dtype=values.dtype), errors="coerce")
    return pd.Series(parsed.to_numpy()[codes], index=values.index, name=values.name)


def named_like_date(name: Any) -> bool:
    """``sale_date``, ``createdTime``, ``timestamp``: a word of the name says date or time."""
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name)).lower())
    return any(w in _DATE_WORDS or w.endswith(("date", "timestamp", "datetime")) for w in words)


def detect_format(column: pd.Series, name: Any = "", *, forced: bool = False) -> str | None:
    """The format that reads ``column`` as dates, or None when it is not a date column.

    ``forced`` (data.column_types says date): numbers are epochs whatever the name, and the best string format
    is returned if it reads more than half of the cells.
    """
    values = column.dropna()
    if pd.api.types.is_datetime64_any_dtype(column) or (
        len(values) and values.head(100).map(lambda v: isinstance(v, pd.Timestamp | np.datetime64)).all()
    ):
        return "ISO8601"  # a CSV written from it reads back as ISO strings
    if values.dtype == bool or len(values) == 0:
        return None
    numbers = as_numbers(values)
    if numbers.notna().mean() >= _MIN_PARSED:
        if not (forced or named_like_date(name)):
            return None
        finite = numbers[np.isfinite(numbers)]
        for fmt, (low, high) in _EPOCH_RANGE.items():
            if len(finite) and finite.min() >= low and finite.max() <= high:
                return fmt
        return "epoch_s" if forced else None
    text = values.astype(str).str.strip()
    counts = text[text != ""].head(5000).value_counts().head(500)  # each distinct value parsed once, weighed
    sample, weights = pd.Series(counts.index, dtype=object), counts.to_numpy() / max(counts.sum(), 1)
    if len(sample) == 0 or not weights @ sample.str.contains(r"\d").to_numpy() >= _MIN_PARSED:
        return None
    best, best_rate = None, 0.0
    for fmt in STRING_FORMATS:
        rate = float(weights @ _parse_strings(sample, fmt).notna().to_numpy())
        if rate > best_rate:
            best, best_rate = fmt, rate
        if rate == 1.0:
            break
    return best if best_rate >= (0.5 if forced else _MIN_PARSED) else None


def _parse_strings(text: pd.Series, fmt: str) -> pd.Series:
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    return parsed.dt.tz_localize(None)


def parse_dates(raw: pd.Series, fmt: str) -> pd.Series:
    """``raw`` as naive UTC ``datetime64[ns]`` (NaT where missing or unreadable), read with ``fmt``."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_convert("UTC").dt.tz_localize(None) if raw.dt.tz is not None else raw
    elif fmt in EPOCH_UNITS:
        numbers = as_numbers(raw)
        parsed = pd.to_datetime(numbers.where(np.isfinite(numbers)), unit=EPOCH_UNITS[fmt], errors="coerce")
    elif raw.notna().any() and raw.dropna().head(100).map(lambda v: isinstance(v, pd.Timestamp | np.datetime64)).all():
        parsed = pd.to_datetime(raw, errors="coerce", utc=True).dt.tz_localize(None)
    else:
        text = raw.map(lambda v: None if pd.isna(v) else str(v).strip()).replace("", None)
        parsed = _parse_strings(text.astype(object), fmt)
    return pd.Series(parsed.to_numpy(dtype="datetime64[ns]"), index=raw.index)


def unreadable(raw: pd.Series, parsed: pd.Series) -> pd.Series:
    """Cells that hold something (not blank) that did not read as a date."""
    blank = raw.map(lambda v: pd.isna(v) or str(v).strip() == "")
    return ~blank & parsed.isna()


# ---------------------------------------------------------------- features
def fit_date(parsed: pd.Series, fmt: str) -> dict[str, Any]:
    """What the training dates fix: origin, median fill, whether hours and a missing flag are features."""
    known = parsed.dropna()
    origin = known.min() if len(known) else pd.Timestamp("1970-01-01")
    fill = known.median() if len(known) else origin
    has_time = bool(len(known) and (known != known.dt.normalize()).any())
    state: dict[str, Any] = {
        "format": fmt,
        "origin": origin.isoformat(),
        "fill": fill.isoformat(),
        "hour": has_time,
        "missing": bool(parsed.isna().any()),
    }
    raw = _raw_features(parsed, state)
    values = np.column_stack([raw[n] for n in SCALED if n in raw])
    center, scale = values.mean(0), values.std(0)
    state["center"] = [float(v) for v in center]
    state["scale"] = [float(v) if v > 1e-12 else 1.0 for v in scale]
    return state


def feature_names(column: str, state: dict[str, Any]) -> list[str]:
    names = [n for n in SCALED if n != "hour" or state["hour"]]
    names += ["month_sin", "month_cos", "day_of_week_sin", "day_of_week_cos"]
    names += ["hour_sin", "hour_cos"] if state["hour"] else []
    names += ["missing"] if state["missing"] else []
    return [f"{column}_{n}" for n in names]


def date_features(parsed: pd.Series, state: dict[str, Any]) -> np.ndarray:
    """(rows, features) in the order of :func:`feature_names`; scaled features use the training statistics."""
    raw = _raw_features(parsed, state)
    scaled = np.column_stack([raw[n] for n in SCALED if n in raw])
    blocks = [(scaled - np.array(state["center"])) / np.array(state["scale"])]
    month, dow = raw["month"] - 1, raw["day_of_week"]
    blocks += [np.column_stack([np.sin(2 * np.pi * month / 12), np.cos(2 * np.pi * month / 12)])]
    blocks += [np.column_stack([np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)])]
    if state["hour"]:
        blocks += [np.column_stack([np.sin(2 * np.pi * raw["hour"] / 24), np.cos(2 * np.pi * raw["hour"] / 24)])]
    if state["missing"]:
        blocks += [parsed.isna().to_numpy(dtype=float)[:, None]]
    return np.hstack(blocks)


def _raw_features(parsed: pd.Series, state: dict[str, Any]) -> dict[str, np.ndarray]:
    dates = parsed.fillna(pd.Timestamp(state["fill"]))
    out = {
        "days": ((dates - pd.Timestamp(state["origin"])) / _DAY).to_numpy(dtype=float),
        "year": dates.dt.year.to_numpy(dtype=float),
        "month": dates.dt.month.to_numpy(dtype=float),
        "day_of_week": dates.dt.day_of_week.to_numpy(dtype=float),
        "day_of_year": dates.dt.day_of_year.to_numpy(dtype=float),
    }
    if state["hour"]:
        out["hour"] = (dates.dt.hour + dates.dt.minute / 60 + dates.dt.second / 3600).to_numpy(dtype=float)
    return out
