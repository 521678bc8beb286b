"""Read a data source (builtin name, CSV, Parquet, NumPy .npz or a DataFrame) into a DataFrame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepfit.data.builtin import load_builtin
from deepfit.errors import DataError

READERS = (".csv", ".tsv", ".parquet", ".pq", ".npz")


def read_source(source: str | Path | pd.DataFrame, base_dir: Path | None = None) -> pd.DataFrame:
    """Read ``source``; relative paths are taken from ``base_dir`` (the config file's folder).

    A CSV keeps ``attrs["line_offset"] = 2`` so that row ``i`` can be reported as file line ``i + 2``.
    """
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True)
    text = str(source)
    if text.startswith("builtin:"):
        return load_builtin(text.removeprefix("builtin:"))
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise DataError(
            f"Data file not found: {path}", hint="paths in a config are relative to the config file's folder"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", skipinitialspace=True)
            frame.attrs["line_offset"] = 2  # header is line 1
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix == ".npz":
            frame = _read_npz(path)
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}'", hint=f"use one of {', '.join(READERS)}")
    except DataError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read: {exc}", hint="check the file is a valid, complete table") from None
    if frame.empty:
        raise DataError(f"{path}: the file holds no rows")
    frame.attrs["path"] = str(path)
    return frame


def _read_npz(path: Path) -> pd.DataFrame:
    """An .npz with ``X`` (samples x features) and ``y`` arrays; feature columns are ``x0, x1, ...``."""
    with np.load(path, allow_pickle=False) as arrays:
        keys = set(arrays.files)
        x_key = next((k for k in ("X", "x", "features") if k in keys), None)
        y_key = next((k for k in ("y", "Y", "target", "labels") if k in keys), None)
        if x_key is None:
            raise DataError(f"{path}: expected an array named 'X' (and 'y'); found {sorted(keys)}")
        x = arrays[x_key]
        if x.ndim != 2:
            raise DataError(f"{path}: 'X' must be 2-D (samples, features) for tabular data; got shape {x.shape}")
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        if y_key is not None:
            y = arrays[y_key]
            if len(y) != len(x):
                raise DataError(f"{path}: 'X' has {len(x)} rows but '{y_key}' has {len(y)}")
            frame["target"] = y if y.ndim == 1 else list(y)
    return frame
