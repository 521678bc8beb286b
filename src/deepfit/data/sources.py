"""Read a data source (builtin name, CSV, Parquet, NumPy .npz or a DataFrame) into a DataFrame.

A file that cannot be read is one ``DataError`` naming it and what is wrong (empty, not UTF-8, a line with
too many fields, duplicated column names, a damaged archive), never a parser's traceback.
"""

from __future__ import annotations

import csv
import re
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from deepfit.data.builtin import load_builtin
from deepfit.errors import DataError

READERS = (".csv", ".tsv", ".parquet", ".pq", ".npz")
_UTF8_HINT = "save the file as UTF-8 (a spreadsheet's 'CSV UTF-8' format, or: iconv -f latin1 -t utf-8)"
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_source(source: str | Path | pd.DataFrame, base_dir: Path | None = None) -> pd.DataFrame:
    """Read ``source``; relative paths are taken from ``base_dir`` (the config file's folder).

    A CSV keeps ``attrs["line_offset"] = 2`` so that row ``i`` can be reported as file line ``i + 2``.
    """
    if isinstance(source, pd.DataFrame):
        _refuse_duplicates("the DataFrame", [str(c) for c in source.columns])
        return source.reset_index(drop=True)
    text = str(source)
    if text.startswith("builtin:"):
        return load_builtin(text.removeprefix("builtin:"))
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    require_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            frame = _read_csv(path, "\t" if suffix == ".tsv" else ",")
        elif suffix in (".parquet", ".pq"):
            frame = _read_parquet(path)
        elif suffix == ".npz":
            frame = _read_npz(path)
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}'", hint=f"use one of {', '.join(READERS)}")
    except DataError:
        raise
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot be read: {exc}", hint="check the file is a valid, complete table") from None
    if frame.empty:
        columns = ", ".join(map(str, frame.columns[:20])) if suffix in (".csv", ".tsv") else ""
        raise DataError(
            f"{path}: the file holds no rows" + (f" (only a header: {columns})" if columns else ""),
            hint="check that the file is complete",
        )
    frame.attrs["path"] = str(path)
    return frame


def require_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file",
            hint="name a .csv, .parquet or .npz file (a folder of images per class needs data.kind: image)",
        )
    if not path.is_file():
        raise DataError(
            f"Data file not found: {path}", hint="paths in a config are relative to the config file's folder"
        )


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)", hint="a CSV needs a header line and a row per example")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text", hint=_UTF8_HINT)
    if b"\0" in head:
        raise DataError(f"{path} is a binary file, not a text table", hint="save the data as CSV (UTF-8) or Parquet")
    try:
        frame = pd.read_csv(path, sep=sep, skipinitialspace=True)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} holds no header and no rows", hint="a CSV needs a header line") from None
    except pd.errors.ParserError as exc:
        found = _FIELDS.search(str(exc))
        if found is None:
            raise
        expected, line, saw = found.groups()
        raise DataError(
            f"{path}, line {line}: {saw} fields where the header has {expected}",
            hint='a value holding the separator needs quotes ("a, b"); check that line and the ones near it',
        ) from None
    _refuse_duplicates(path, _csv_header(path, sep))
    frame.attrs["line_offset"] = 2  # header is line 1
    return frame


def _not_utf8(path: Path) -> DataError:
    """A CSV is read as UTF-8: a file in another encoding is named with its first bad byte and line."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        start = 0
    except UnicodeDecodeError as exc:
        start = exc.start
    line = data.count(b"\n", 0, start) + 1
    return DataError(
        f"{path} is not UTF-8 text: byte 0x{data[start]:02x} on line {line} (byte {start} of the file)",
        hint=_UTF8_HINT,
    )


def _csv_header(path: Path, sep: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [name.strip() for name in next(csv.reader(handle, delimiter=sep), [])]


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}: cannot be read: {exc}", hint="check the file is a complete Parquet file") from None
    _refuse_duplicates(path, names)
    return pd.read_parquet(path)


def _refuse_duplicates(path: Path | str, names: list[str]) -> None:
    """Two columns of one name: pandas would rename the second ('x.1'); which one is meant cannot be told."""
    counts = Counter(name for name in names if name != "")
    duplicated = {name: n for name, n in counts.items() if n > 1}
    if duplicated:
        listed = ", ".join(f"'{name}' ({n} times)" for name, n in duplicated.items())
        raise DataError(
            f"{path}: duplicated column names: {listed}",
            hint="give every column its own name (in a file: its header)",
        )


def open_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, read now: a truncated or damaged archive is one error naming the file."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(
            f"{path}: not a readable .npz archive ({exc})",
            hint="the file may be truncated or damaged: write it again with numpy.savez",
        ) from None


def _read_npz(path: Path) -> pd.DataFrame:
    """An .npz with ``X`` (samples x features) and ``y`` arrays; feature columns are ``x0, x1, ...``."""
    arrays = open_npz(path)
    x_key = next((k for k in ("X", "x", "features") if k in arrays), None)
    y_key = next((k for k in ("y", "Y", "target", "labels") if k in arrays), None)
    if x_key is None:
        raise DataError(
            f"{path}: expected an array named 'X' (and 'y'); found {sorted(arrays)}",
            hint="save the features and labels with numpy.savez(path, X=X, y=y)",
        )
    x = arrays[x_key]
    if x.ndim != 2:
        raise DataError(f"{path}: 'X' must be 2-D (samples, features) for tabular data; got shape {x.shape}")
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    if y_key is not None:
        y = arrays[y_key]
        if len(y) != len(x):
            raise DataError(f"{path}: 'X' has {len(x)} rows but '{y_key}' has {len(y)}")
        frame["target"] = y if y.ndim == 1 else list(y)
    frame.attrs["npz_arrays"] = sorted(arrays)
    return frame
