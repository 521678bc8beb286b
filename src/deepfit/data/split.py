"""Train/validation/test splits: stratified, grouped, by time (order) or plain random; always seeded.

A split the fractions ask for never comes out empty, and training never sees fewer than two classes: both are
errors that say why (classes too small to stratify, too few rows or groups) and what to change. Classes too small
to reach validation or test are kept for training and named in a warning.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import SplitConfig
from deepfit.data.sources import release_memory
from deepfit.errors import DataError, DataWarning

SPLITS = ("train", "validation", "test")
_SHOWN = 5  # classes named in a message


def split_fractions(config: SplitConfig, external: tuple[str, ...] = ()) -> np.ndarray:
    """The fractions of train, validation and test; a split read from its own file gives its share to the others."""
    fractions = np.array([0.0 if name in external else getattr(config, name) for name in SPLITS])
    return fractions / fractions.sum()


def minimum_rows(config: SplitConfig, external: tuple[str, ...] = (), task: str = "regression") -> int:
    """The fewest rows that give every split with a fraction a row, and train two (classification) or one."""
    fractions = split_fractions(config, external)
    need_train = 2 if task == "classification" else 1
    n = 2  # a single row cannot train anything: every column is constant
    while True:
        sizes = _sizes(n, fractions)
        if sizes[0] >= need_train and all(sizes[i] >= 1 for i in (1, 2) if fractions[i] > 0):
            return n
        n += 1


def split_frame(
    frame: pd.DataFrame,
    config: SplitConfig,
    *,
    target: str,
    task: str,
    seed: int,
    external: tuple[str, ...] = (),
    release: bool = False,
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` by the configured fractions.

    Splits named in ``external`` come from their own files, so their fraction is given to the others.
    Returns every split name; a split with fraction 0 is an empty frame. ``release``: ``frame`` is used up
    (its columns are moved into the parts one by one and it is left without columns), so a large table is
    held once, not twice, while it is split.
    """
    fractions = split_fractions(config, external)
    rng = np.random.default_rng(config.seed if config.seed is not None else seed)
    positions = np.arange(len(frame))
    stratified = False
    if config.order_column:
        _require(frame, config.order_column, "data.split.order_column")
        order = np.argsort(frame[config.order_column].to_numpy(), kind="stable")
        parts = _cut(order, fractions)
    elif config.group_column:
        _require(frame, config.group_column, "data.split.group_column")
        parts = _split_groups(frame[config.group_column].to_numpy(), fractions, rng)
    elif config.stratify and task == "classification":
        stratified = True
        # codes, not the labels: text labels as an array would be a Python string per row
        codes, uniques = pd.factorize(frame[target])  # in order of appearance, as pd.unique; missing: none
        chosen: list[list[np.ndarray]] = [[], [], []]  # arrays, not lists of Python ints (36 bytes a row)
        for label in range(len(uniques)):
            members = rng.permutation(positions[codes == label])
            for i, part in enumerate(_cut(members, fractions, keep_one=True)):
                chosen[i].append(part)
        parts = [np.sort(np.concatenate(p).astype(int)) if p else np.zeros(0, dtype=int) for p in chosen]
    else:
        parts = _cut(rng.permutation(positions), fractions)
    rows = [np.sort(part) for part in parts]
    if len(rows[0]) == 0:
        raise DataError("the training split is empty", hint="use more data or a larger data.split.train")
    kept = frame[[c for c in (target, config.group_column) if c]]  # what the checks below read
    result = _take(frame, rows, release)
    _check_not_empty(result, fractions, kept, config, target, stratified)
    if task == "classification":
        _check_classes(result, target, config)
        if stratified:
            _warn_train_only(kept[target], fractions)
    return result


def _take(frame: pd.DataFrame, rows: list[np.ndarray], release: bool) -> dict[str, pd.DataFrame]:
    """The parts of ``frame`` at ``rows`` (positions, sorted): ``frame.iloc`` each, or with ``release`` built a
    column at a time, each column deleted from ``frame`` once its parts are taken."""
    if not release:
        return {name: frame.iloc[part] for name, part in zip(SPLITS, rows, strict=True)}
    columns: dict[str, dict[str, Any]] = {name: {} for name in SPLITS}
    for column in list(frame.columns):
        values = frame[column].array  # arrays, not Series: a Series would carry its own copy of the index
        for name, part in zip(SPLITS, rows, strict=True):
            columns[name][column] = values.take(part)
        del frame[column], values
        release_memory()  # the column just freed, before the next is taken (text is not reused otherwise)
    result = {
        name: pd.DataFrame(columns.pop(name), index=frame.index[part], copy=False)
        for name, part in zip(SPLITS, rows, strict=True)
    }
    for part in result.values():
        part.attrs.update(frame.attrs)
    return result


def train_only_classes(labels: pd.Series, fractions: np.ndarray) -> dict[str, int]:
    """Classes (with their row counts, smallest first) too small for stratification to give validation or test a row."""
    counts = labels.value_counts(sort=False)
    least = min_class_rows(fractions)
    small = {str(k): int(n) for k, n in counts.items() if n < least}
    return dict(sorted(small.items(), key=lambda item: item[1]))


def unscored_classes(frames: dict[str, pd.DataFrame], target: str) -> dict[str, int]:
    """Training classes (with their training rows) missing from a non-empty validation or test split."""
    others = [set(map(str, pd.unique(frames[name][target]))) for name in SPLITS[1:] if not frames[name].empty]
    codes, uniques = pd.factorize(frames["train"][target], use_na_sentinel=False)  # each label made text once
    counts = pd.Series(np.array([str(v) for v in uniques], dtype=object)[codes]).value_counts()
    return {k: int(n) for k, n in counts.items() if any(k not in seen for seen in others)}


def min_class_rows(fractions: np.ndarray) -> int:
    """The fewest rows of a class for stratification to give it a row in every split with a fraction."""
    n = 1
    while any(_sizes(n, fractions, keep_one=True)[i] == 0 for i in (1, 2) if fractions[i] > 0):
        n += 1
    return n


def _classes(n: int) -> str:
    return "1 class has" if n == 1 else f"{n} classes have"


def _named(classes: dict[str, int]) -> str:
    shown = ", ".join(f"'{k}' ({n} row{'s' if n != 1 else ''})" for k, n in list(classes.items())[:_SHOWN])
    return shown + (f", … ({len(classes)} classes in all)" if len(classes) > _SHOWN else "")


def _check_not_empty(
    result: dict[str, pd.DataFrame],
    fractions: np.ndarray,
    frame: pd.DataFrame,
    config: SplitConfig,
    target: str,
    stratified: bool,
) -> None:
    """A split the fractions ask for (validation, test) must hold rows: else its metrics are empty."""
    for i, name in enumerate(SPLITS[1:], start=1):
        if fractions[i] == 0 or not result[name].empty:
            continue
        zero = f"or set data.split.{name}: 0"
        if stratified:
            small = train_only_classes(frame[target], fractions)
            raise DataError(
                f"the {name} split is empty: every class is too small to stratify (a class needs "
                f"{min_class_rows(fractions)} rows to reach validation and test): {_named(small)}",
                hint=f"use more data, set data.split.stratify: false, merge rare classes, {zero}",
            )
        if config.group_column:
            groups = frame[config.group_column].nunique()
            why = f"the {groups} groups of '{config.group_column}' are too few to give it one"
        else:
            why = f"a fraction of {fractions[i]:.3g} of {len(frame)} rows rounds to none"
        raise DataError(f"the {name} split is empty: {why}", hint=f"use more data, a larger data.split.{name}, {zero}")


def _check_classes(result: dict[str, pd.DataFrame], target: str, config: SplitConfig) -> None:
    """Training needs two classes; a validation or test split whose every class is unknown to training is useless."""
    how = "data.split.order_column" if config.order_column else "data.split.group_column" if config.group_column else ""
    fix = f"choose another {how}, or " if how else ""
    train = result["train"][target]
    if train.nunique() < 2:
        raise DataError(
            f"the training split holds a single class ('{train.iloc[0]}'); a classifier needs two or more",
            hint=f"{fix}use data.split.stratify: true (without group or order columns) or more data",
        )
    for name in SPLITS[1:]:
        part = result[name][target]
        if len(part) and not part.isin(set(train)).any():
            classes = ", ".join(f"'{c}'" for c in pd.unique(part)[:_SHOWN])
            raise DataError(
                f"every row of the {name} split ({len(part)} rows; classes {classes}) has a class the training "
                "split lacks, so none can be scored",
                hint=f"{fix}use more rows per class, merge rare classes, or set data.split.{name}: 0",
            )


def _warn_train_only(labels: pd.Series, fractions: np.ndarray) -> None:
    small = train_only_classes(labels, fractions)
    if small:
        warnings.warn(
            f"{_classes(len(small))} fewer than {min_class_rows(fractions)} rows, too few to stratify: only in the "
            f"training split, so validation and test do not score them: {_named(small)}",
            DataWarning,
            stacklevel=3,
        )


def _sizes(n: int, fractions: np.ndarray, keep_one: bool = False) -> np.ndarray:
    """Rows of each split out of ``n``: rounded fractions; train gets the rest (at least one row if ``keep_one``)."""
    sizes = np.floor(fractions * n + 0.5).astype(int)
    if keep_one and n:  # a rare class keeps at least one row in train
        sizes[1:] = np.minimum(sizes[1:], max(n - 1, 0) // max(int((fractions[1:] > 0).sum()), 1))
    sizes[0] = n - sizes[1:].sum()
    return sizes


def _cut(order: np.ndarray, fractions: np.ndarray, keep_one: bool = False) -> list[np.ndarray]:
    """Cut ``order`` into consecutive parts with the given fractions (rounded; train gets the rest)."""
    bounds = np.cumsum(_sizes(len(order), fractions, keep_one))[:-1]
    return np.split(order, bounds)


def _split_groups(groups: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Assign whole groups to splits, filling validation and test first so they get their share."""
    unique, inverse, counts = np.unique(groups.astype(str), return_inverse=True, return_counts=True)
    order = rng.permutation(len(unique))
    targets = fractions * len(groups)
    assigned = np.zeros(len(unique), dtype=int)
    filled = np.zeros(3)
    for g in order:
        # the split furthest below its target share takes the group; train takes what is left
        need = (targets - filled) / np.maximum(targets, 1e-9)
        need[targets == 0] = -np.inf
        split = int(np.argmax(need))
        assigned[g] = split
        filled[split] += counts[g]
    row_split = assigned[inverse]
    return [np.flatnonzero(row_split == i) for i in range(3)]


def _require(frame: pd.DataFrame, column: str, key: str) -> None:
    if column not in frame.columns:
        raise DataError(f"{key}: column '{column}' is not in the data")
