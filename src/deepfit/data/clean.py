"""Cleaning with a report: what was found, what was done, and the rows and columns concerned.

Only row/column decisions happen here. Imputation and scaling are statistics, so they are fitted on
the training split in ``preprocess.py``; here missing values are only counted (or their rows dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import CleanConfig
from deepfit.data.schema import Schema, cells, positions
from deepfit.errors import DataError


def clean(
    frame: pd.DataFrame, schema: Schema, config: CleanConfig, keep: tuple[str, ...] = (), min_rows: int = 2
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the cleaned frame (original index kept, for row numbers) and the data report.

    ``keep`` names non-feature columns the split needs (group or order column); ``min_rows`` is the fewest
    labelled rows the split can use (``split.minimum_rows``).
    """
    report: dict[str, Any] = {"rows_in": len(frame), "target": schema.target, "task": schema.task}
    target = schema.target
    source = str(frame.attrs.get("path", "the data"))

    no_target = frame[target].isna()
    report["missing_target_rows"] = int(no_target.sum())
    if schema.task == "regression":  # an infinite label is no label: its rows go as missing ones do
        infinite = pd.Series(np.isinf(pd.to_numeric(frame[target], errors="coerce").to_numpy()), index=frame.index)
        if infinite.any():
            report["infinite_target"] = cells(frame, infinite, target, frame.attrs.get("line_offset"))
            no_target |= infinite
    frame = _without(frame, no_target)
    check_enough_rows(frame, report, target, source, min_rows)

    if config.drop_constant:
        for column in [c for c in schema.features if frame[c].nunique(dropna=True) <= 1]:
            schema.dropped[column] = "constant (a single value)"
            del schema.kinds[column]
    if not schema.kinds:
        reasons = "; ".join(f"'{c}': {why}" for c, why in list(schema.dropped.items())[:10])
        raise DataError(
            "no feature columns are left" + (f" ({reasons})" if reasons else ""),
            hint="check data.features and data.drop_columns",
        )

    used = [*schema.features, target]
    frame = frame[used + [c for c in keep if c not in used]]
    duplicated = duplicated_rows(frame, used) if config.drop_duplicates else np.zeros(len(frame), dtype=bool)
    report["duplicate_rows"] = int(duplicated.sum())
    frame = _without(frame, duplicated)

    frame, report["conflicts"] = resolve_conflicts(frame, schema.features, schema.target, schema.task, config.conflicts)

    missing = frame[schema.features].isna()
    report["missing_values"] = {c: int(n) for c, n in missing.sum().items() if n}
    report["missing_policy"] = config.missing
    if config.missing == "drop":
        rows = missing.any(axis=1)
        report["rows_dropped_missing"] = int(rows.sum())
        frame = _without(frame, rows)
    del missing

    report["unparseable_cells"] = schema.unparseable
    report["infinite_cells"] = schema.infinite
    report["dropped_columns"] = dict(schema.dropped)
    report["columns"] = dict(schema.kinds)
    report["date_formats"] = {c: f for c, f in schema.date_formats.items() if c in schema.kinds}
    report["rows_out"] = len(frame)
    report["target_summary"] = target_summary(frame[target], schema.task)
    check_usable(frame, target, schema.task)
    return frame, report


def _without(frame: pd.DataFrame, rows: Any) -> pd.DataFrame:
    """``frame`` less the rows where ``rows`` is true; ``frame`` itself (not a copy of it) when there are none."""
    rows = np.asarray(rows, dtype=bool)
    return frame.loc[~rows] if rows.any() else frame


def row_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row of ``columns``: equal rows (as ``DataFrame.duplicated`` compares them: NaN equals
    NaN, -0.0 equals 0.0) get equal keys. Hashed a column at a time, so it holds two arrays of a number per row
    where ``duplicated`` holds an integer code per cell of the table."""
    keys = np.zeros(len(frame), dtype=np.uint64)
    for column in columns:
        values = frame[column]
        if values.dtype.kind == "f":  # one NaN and one zero: their bits differ, their values do not
            values = pd.Series(np.where(np.isnan(values), np.nan, values + 0.0), index=values.index)
        hashed = pd.util.hash_pandas_object(values, index=False).to_numpy()
        keys = keys * np.uint64(0x100000001B3) ^ hashed  # FNV-style mixing, wrapping at 2**64
    return keys


def duplicated_rows(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """``frame.duplicated(subset=columns, keep="first")`` without its cost on a large table: the rows are hashed
    (:func:`row_keys`), and only rows whose hash is shared (few, usually none) are compared value by value."""
    keys = pd.Series(row_keys(frame, columns))
    shared = keys.duplicated(keep=False).to_numpy()
    duplicated = np.zeros(len(frame), dtype=bool)
    if shared.any():
        duplicated[shared] = frame.loc[shared, columns].duplicated(keep="first").to_numpy()
    return duplicated


def check_enough_rows(frame: pd.DataFrame, report: dict[str, Any], target: str, source: str, min_rows: int) -> None:
    """An empty target column, or too few labelled rows to split and train, said as such (``frame``: the labelled
    rows; ``report["rows_in"]``: the rows read)."""
    rows_in = report["rows_in"]
    if frame.empty and rows_in:
        raise DataError(
            f"the target column '{target}' of {source} has no values (all {rows_in} rows are empty)",
            hint="check that data.target names the label column and that the column is filled in",
        )
    if len(frame) < min_rows:
        rows = f"{rows_in} row{'s' if rows_in != 1 else ''}"
        labelled = "" if len(frame) == rows_in else f", {len(frame)} with a target"
        raise DataError(
            f"{source} has {rows}{labelled}: too few to split and train a model (at least {min_rows} are needed)",
            hint=f"use at least {min_rows} labelled rows; with fewer, lower data.split.validation and data.split.test",
        )


def resolve_conflicts(
    frame: pd.DataFrame, features: list[str], target: str, task: str, policy: str, *, show: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rows with identical ``features`` but different labels (classification only): keep, drop or majority.

    Examples are the first rows' numbers, or with ``show`` (an image's path column) the groups as
    ``"value (label)"`` lists.
    """
    info: dict[str, Any] = {"groups": 0, "rows": 0, "policy": policy, "rows_removed": 0, "examples": []}
    if task != "classification":
        return frame, info
    # One hash per row of features (NaN-safe), so groups of identical features are found in one pass; only rows
    # whose features some other row shares can conflict, so the groups are formed among those alone.
    keys = pd.Series(row_keys(frame, features), index=frame.index)
    shared = keys.duplicated(keep=False).to_numpy()
    keys, labels = keys[shared], frame[target][shared].astype(str)  # 3 and "3" are one label
    conflicted = labels.groupby(keys).transform("nunique") > 1
    info["groups"] = int(keys[conflicted].nunique())
    info["rows"] = int(conflicted.sum())
    if show is None:
        info["examples"] = [int(i) for i in keys.index[conflicted][:10]]
    else:
        rows = frame[shared][conflicted.to_numpy()]
        info["examples"] = [
            [f"{v} ({label})" for v, label in zip(group[show], group[target], strict=True)]
            for _, group in list(rows.groupby(keys[conflicted].to_numpy(), sort=False))[:5]
        ]
    if not conflicted.any() or policy == "keep":
        return frame, info
    keep = np.ones(len(frame), dtype=bool)
    if policy == "drop":
        keep[shared] = ~conflicted.to_numpy()
    else:  # majority: keep the rows carrying each group's most frequent label (ties: first seen)
        majority = labels.groupby(keys).agg(lambda s: s.value_counts().index[0])
        keep[shared] = labels.to_numpy() == majority.loc[keys].to_numpy()
    info["rows_removed"] = int(len(frame) - keep.sum())
    return frame.loc[keep], info


def target_summary(target: pd.Series, task: str) -> dict[str, Any]:
    if task == "classification":
        counts = target.value_counts()
        return {
            "classes": {str(k): int(v) for k, v in counts.items()},
            "imbalance_ratio": float(counts.max() / counts.min()) if len(counts) else None,
        }
    values = pd.to_numeric(target, errors="coerce")
    return {k: float(getattr(values, k)()) for k in ("mean", "std", "min", "max")}


def check_usable(frame: pd.DataFrame, target: str, task: str, *, origin: str | None = None) -> None:
    """Rows left, two classes or more, numeric regression labels. ``origin``: the images' folder or table."""
    if frame.empty:
        if origin:
            raise DataError(f"no usable images in {origin}", hint="check the data report's unreadable files")
        raise DataError(
            "no rows are left after cleaning",
            hint="check the target column and data.clean (for example clean.missing: impute instead of drop)",
        )
    if task == "classification":
        classes = frame[target].unique()
        if len(classes) < 2:
            who, hint = (
                (origin, "add a sub-folder (or labelled rows) for every class")
                if origin
                else (
                    f"the target '{target}'",
                    "check the target column, or set data.task: regression",
                )
            )
            raise DataError(f"{who} has a single class ('{classes[0]}'); classification needs two or more", hint=hint)
    elif not pd.api.types.is_numeric_dtype(frame[target]):
        bad = pd.to_numeric(frame[target], errors="coerce").isna()
        if bad.any():
            value = frame[target][bad].iloc[0]
            where = f" in {origin}" if origin else ""
            raise DataError(
                f"regression target '{target}'{where} holds non-numeric values such as {value!r}",
                hint="fix those cells, or set data.task: classification",
            )


def summarize(report: dict[str, Any]) -> list[str]:
    """Plain-language lines for the printed data summary."""
    lines = [f"{report['rows_in']} rows in, {report['rows_out']} used; task: {report.get('task', '?')}"]
    if report.get("missing_target_rows"):
        lines.append(f"dropped {report['missing_target_rows']} rows with no target")
    if report.get("duplicate_rows"):
        lines.append(f"removed {report['duplicate_rows']} exact duplicate rows")
    conflicts = report.get("conflicts", {})
    if conflicts.get("groups"):
        lines.append(
            f"{conflicts['groups']} groups of identical features with different labels ({conflicts['rows']} rows); "
            f"policy '{conflicts['policy']}' removed {conflicts['rows_removed']}"
        )
    for column, reason in report.get("dropped_columns", {}).items():
        lines.append(f"dropped column '{column}': {reason}")
    if report.get("infinite_target"):
        info = report["infinite_target"]
        rows = f"{info['count']} row" + ("s" if info["count"] != 1 else "")
        lines.append(f"dropped {rows} with an infinite target ({positions(info)})")
    for column, info in report.get("unparseable_cells", {}).items():
        examples = ", ".join(map(repr, info["values"][:3]))
        lines.append(
            f"column '{column}': {_cells(info['count'])} not {info.get('expected', 'numbers')} (e.g. {examples}; "
            f"{positions(info)}); treated as missing"
        )
    lines.extend(_feature_lines(report))
    for column, info in report.get("infinite_cells", {}).items():
        lines.append(f"column '{column}': {_cells(info['count'])} infinite ({positions(info)}); treated as missing")
    unseen = report.get("rows_with_classes_unseen_in_train", {})
    if unseen:
        parts = ", ".join(f"{n} {name}" for name, n in unseen.items())
        lines.append(f"left out rows whose class the training split lacks (not scored): {parts}")
    if report.get("missing_values"):
        cells = ", ".join(f"{c} ({n})" for c, n in report["missing_values"].items())
        action = "imputed (fitted on train)" if report["missing_policy"] == "impute" else "rows dropped"
        lines.append(f"missing values in {cells}: {action}")
    lines.extend(report.get("notes", []))  # findings of other data kinds (corrupt images, gaps in a series)
    ratio = report.get("target_summary", {}).get("imbalance_ratio")
    if ratio and ratio >= 3:
        lines.append(
            f"classes are imbalanced (largest / smallest = {ratio:.1f}); consider train.class_weights: balanced"
        )
    return lines


def _feature_lines(report: dict[str, Any]) -> list[str]:
    """Date and free-text columns and what they became; rare categories pooled (``TabularPreprocessor``)."""
    lines = []
    features = report.get("date_features", {})
    for column, fmt in report.get("date_formats", {}).items():
        names = features.get(column)
        became = f" → {len(names)} features: {', '.join(n[len(column) + 1 :] for n in names)}" if names else ""
        lines.append(f"column '{column}': dates (read as {fmt}, UTC){became}")
    explained = report.get("text_explained", {})
    for column, n in report.get("text_features", {}).items():
        if column in explained:
            share = f", {explained[column]:.0%} of the variance"
            lines.append(f"column '{column}': free text → {n} word features (tf-idf of words and word pairs{share})")
        else:
            lines.append(f"column '{column}': free text → {n} hashed word features (unigrams + bigrams)")
    if not report.get("text_features"):
        for column in [c for c, kind in report.get("columns", {}).items() if kind == "text"]:
            lines.append(f"column '{column}': free text (hashed word features)")
    if missing := report.get("missing_indicators"):
        shown = ", ".join(f"'{c}'" for c in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        lines.append(f"missing cells of {shown} imputed, each with a 0/1 'was missing' feature")
    for column, info in report.get("pooled_categories", {}).items():
        lines.append(
            f"column '{column}': {info['levels']} categories seen fewer than {info['min_count']} times in train "
            f"({info['rows']} rows) pooled into 'other'"
        )
    return lines


def _cells(n: int) -> str:
    """``1 cell is`` / ``3 cells are``."""
    return f"{n} cell is" if n == 1 else f"{n} cells are"
