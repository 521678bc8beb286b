"""Reading sequences: an .npz of arrays, or a long table with one row per step and a sequence id column.

Either way the result is :class:`Sequences`: padded at the end to one length, with each sequence's true
length, its label and (from a table) its id. Missing feature values are carried forward in a sequence.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from deepfit.config import Config, SequenceConfig
from deepfit.data.schema import resolve_target
from deepfit.data.sources import open_npz, read_source, require_file
from deepfit.data.timeseries.clean import mostly_numeric, numeric_frame, require_column, source_name, where
from deepfit.errors import DataError, DataWarning

X_KEYS, Y_KEYS = ("X", "x", "features"), ("y", "Y", "target", "labels")


@dataclass
class Sequences:
    """Sequences padded at the end to one length: ``x`` (N, T, F), their true ``lengths``, labels, ids."""

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray | None = None
    ids: list[Any] | None = None  # the id of each sequence in a long table
    missing: int = 0  # feature cells filled from the step before
    features: list[str] | None = None  # names of the features (x0, x1, ... for an .npz)

    def __len__(self) -> int:
        return len(self.x)

    def labels(self) -> np.ndarray:
        """``y``, for sequences read with their labels (a DataError when there are none)."""
        if self.y is None:
            raise DataError("the sequences have no labels ('y' in an .npz, the target column in a table)")
        return self.y

    def take(self, index: np.ndarray) -> Sequences:
        ids = None if self.ids is None else [self.ids[i] for i in index]
        y = None if self.y is None else self.y[index]
        return Sequences(self.x[index], self.lengths[index], y, ids, self.missing, self.features)


# ---------------------------------------------------------------- reading
def _npz_ndim(path: Path) -> int:
    """Dimensions of the X array of an .npz, from its header only (the array itself is not read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((f"{k}.npy" for k in X_KEYS if f"{k}.npy" in archive.namelist()), None)
            if name is None:
                return 0
            with archive.open(name) as handle:
                version = np.lib.format.read_magic(handle)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape = read(handle)[0]
    except (OSError, ValueError, zipfile.BadZipFile):
        return 0
    return len(shape)


def looks_like_sequences(config: Config) -> bool:
    """``data.kind: auto`` means sequences when a ``data.sequence`` key is set or the .npz's X is 3-D."""
    data = config.data
    if data.sequence != SequenceConfig():
        return True
    if not data.source or data.source.startswith("builtin:"):
        return False
    path = config.resolve_path(data.source)
    return path.suffix.lower() == ".npz" and path.is_file() and _npz_ndim(path) == 3


def read_npz(path: Path) -> Sequences:
    """``X`` (N, T, F) or (N, T), ``y`` when there are labels, ``lengths`` when sequences are padded."""
    require_file(path)
    arrays = open_npz(path)
    x_key = next((k for k in X_KEYS if k in arrays), None)
    y_key = next((k for k in Y_KEYS if k in arrays), None)
    if x_key is None:
        raise DataError(
            f"{path}: expected an array named 'X' (samples, steps, features); found {sorted(arrays)}",
            hint="save the sequences and labels with numpy.savez(path, X=X, y=y)",
        )
    try:
        x = arrays[x_key].astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: 'X' holds {arrays[x_key].dtype} values, not numbers") from None
    x = x[..., None] if x.ndim == 2 else x
    if x.ndim != 3:
        raise DataError(f"{path}: 'X' must be (samples, steps, features) for sequences; got shape {x.shape}")
    y = arrays[y_key] if y_key else None
    if y is not None and y.dtype.kind == "f" and np.isinf(y).any():  # an infinite label is no label
        bad = np.flatnonzero(np.isinf(y))
        warnings.warn(
            f"{path}: {len(bad)} labels in '{y_key}' are infinite (sequences {', '.join(map(str, bad[:5]))}); "
            "those sequences are treated as unlabelled",
            DataWarning,
            stacklevel=2,
        )
        y = np.where(np.isinf(y), np.nan, y)
    lengths = arrays["lengths"].astype(np.int64) if "lengths" in arrays else np.full(len(x), x.shape[1])
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: 'X' has {len(x)} sequences but '{y_key}' has {len(y)} labels")
    if len(lengths) != len(x) or (lengths < 1).any() or (lengths > x.shape[1]).any():
        raise DataError(f"{path}: 'lengths' must hold one length in 1..{x.shape[1]} per sequence")
    steps = np.arange(x.shape[1])[None, :] < lengths[:, None]
    x[~steps] = 0.0
    infinite = np.isinf(x)
    if infinite.any():  # an overflow is no measurement: missing, carried forward like NaN (and named)
        where = np.argwhere(infinite)[:5]
        cells = ", ".join(f"[{i}, {t}, {f}]" for i, t, f in where)
        warnings.warn(
            f"{path}: {int(infinite.sum())} values of 'X' are infinite (sequence, step, feature: {cells}); "
            "treated as missing and carried forward from the step before",
            DataWarning,
            stacklevel=2,
        )
        x[infinite] = np.nan
    missing = int(np.isnan(x).sum())
    return Sequences(_carry_forward(x), lengths, y, None, missing, [f"x{i}" for i in range(x.shape[2])])


def _carry_forward(x: np.ndarray) -> np.ndarray:
    """NaN steps take the value of the step before (the first steps the next value; else 0, the train mean)."""
    if not np.isnan(x).any():
        return x
    filled = np.empty_like(x)
    for i, seq in enumerate(x):
        filled[i] = pd.DataFrame(seq).ffill().bfill().fillna(0.0).to_numpy()
    return filled


def read_long(
    frame: pd.DataFrame, config: SequenceConfig, features: list[str] | None, target: str | None, source: str
) -> Sequences:
    """One sequence per id, steps in order (``order_column``, else the file's), label constant per sequence."""
    if config.id_column is None:
        raise DataError(
            f"{source} is a table: a sequence per id needs data.sequence.id_column",
            hint=f"name the sequence id column; the columns are: {', '.join(map(str, frame.columns[:20]))}",
        )
    for key, column in (("id_column", config.id_column), ("order_column", config.order_column)):
        if column is not None:
            require_column(frame, column, f"data.sequence.{key}", source)
    exclude = {config.id_column, config.order_column, target}
    if features is None:
        features = [c for c in frame.columns if c not in exclude and mostly_numeric(frame[c])]
    for column in features:
        require_column(frame, column, "data.features", source)
    if not features:
        raise DataError(f"{source} has no numeric feature column", hint="name them in data.features")
    values = numeric_frame(frame, features, source)
    if config.order_column is not None:
        values = values.loc[frame[config.order_column].sort_values(kind="stable").index]
    groups = values.groupby(frame.loc[values.index, config.id_column], sort=False)
    ids, seqs, labels = [], [], []
    for key, part in groups:
        ids.append(key)
        seqs.append(part.ffill().bfill().to_numpy())
        if target is not None:
            labels.append(_one_label(frame.loc[part.index, target], key, frame, source))
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), int(lengths.max()), len(features)))
    for i, seq in enumerate(seqs):
        x[i, : len(seq)] = np.nan_to_num(seq)  # a feature missing from a whole sequence: 0, the train mean
    y = np.asarray(labels, dtype=object) if target is not None else None
    return Sequences(x, lengths, y, ids, int(values.isna().sum().sum()), list(features))


def _one_label(labels: pd.Series, key: Any, frame: pd.DataFrame, source: str) -> Any:
    present = labels.dropna()
    if present.nunique() > 1:
        raise DataError(
            f"sequence {key!r} of {source} has {present.nunique()} different labels in '{labels.name}' "
            f"({', '.join(map(repr, present.unique()[:3]))}; {where(frame, present.index)})",
            hint="a sequence has one label: give every row of a sequence the same one",
        )
    return present.iloc[0] if len(present) else None


@overload
def read_sequences(
    config: Config, source: str | Path | None, frame: pd.DataFrame | None = None, *, labels: Literal[True] = True
) -> tuple[Sequences, str, int]: ...
@overload
def read_sequences(
    config: Config, source: str | Path | None, frame: pd.DataFrame | None = None, *, labels: bool
) -> tuple[Sequences, str | None, int]: ...
def read_sequences(
    config: Config, source: str | Path | None, frame: pd.DataFrame | None = None, *, labels: bool = True
) -> tuple[Sequences, str | None, int]:
    """The sequences of ``frame`` or ``source`` (an .npz, or a table read as usual), the label name, rows read."""
    data = config.data
    if frame is None and source is not None and str(source).lower().endswith(".npz"):
        seqs = read_npz(config.resolve_path(str(source)))
        if labels and seqs.y is None:
            raise DataError(f"{source}: expected the labels in an array named 'y' beside 'X'")
        return seqs, data.target or "target", len(seqs)
    frame = frame if frame is not None else read_source(source, config.base_dir)
    target = resolve_target(frame, data, data.source) if labels else None
    features = [c for c in data.features if c not in data.drop_columns] if data.features else None
    if features is None and data.drop_columns:
        frame = frame.drop(columns=[c for c in data.drop_columns if c in frame.columns])
    return read_long(frame, data.sequence, features, target, source_name(frame)), target, len(frame)
