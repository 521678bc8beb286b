"""Train/validation/test splits: stratified, grouped, by time (order) or plain random; always seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfit.config import SplitConfig
from deepfit.errors import DataError

SPLITS = ("train", "validation", "test")


def split_frame(
    frame: pd.DataFrame,
    config: SplitConfig,
    *,
    target: str,
    task: str,
    seed: int,
    external: tuple[str, ...] = (),
) -> dict[str, pd.DataFrame]:
    """Split ``frame`` by the configured fractions.

    Splits named in ``external`` come from their own files, so their fraction is given to the others.
    Returns every split name; a split with fraction 0 is an empty frame.
    """
    fractions = np.array([0.0 if name in external else getattr(config, name) for name in SPLITS])
    fractions = fractions / fractions.sum()
    rng = np.random.default_rng(config.seed if config.seed is not None else seed)
    positions = np.arange(len(frame))
    if config.order_column:
        _require(frame, config.order_column, "data.split.order_column")
        order = np.argsort(frame[config.order_column].to_numpy(), kind="stable")
        parts = _cut(order, fractions)
    elif config.group_column:
        _require(frame, config.group_column, "data.split.group_column")
        parts = _split_groups(frame[config.group_column].to_numpy(), fractions, rng)
    elif config.stratify and task == "classification":
        labels = frame[target].to_numpy()
        parts = [[], [], []]
        for label in pd.unique(labels):
            members = rng.permutation(positions[labels == label])
            for i, part in enumerate(_cut(members, fractions, keep_one=True)):
                parts[i].extend(part)
        parts = [np.sort(np.asarray(p, dtype=int)) for p in parts]
    else:
        parts = _cut(rng.permutation(positions), fractions)
    result = {name: frame.iloc[np.sort(part)] for name, part in zip(SPLITS, parts, strict=True)}
    if result["train"].empty:
        raise DataError("the training split is empty", hint="use more data or a larger data.split.train")
    return result


def _cut(order: np.ndarray, fractions: np.ndarray, keep_one: bool = False) -> list[np.ndarray]:
    """Cut ``order`` into consecutive parts with the given fractions (rounded; train gets the rest)."""
    n = len(order)
    sizes = np.floor(fractions * n + 0.5).astype(int)
    if keep_one and n:  # a rare class keeps at least one row in train
        sizes[1:] = np.minimum(sizes[1:], max(n - 1, 0) // max(int((fractions[1:] > 0).sum()), 1))
    sizes[0] = n - sizes[1:].sum()
    bounds = np.cumsum(sizes)[:-1]
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
