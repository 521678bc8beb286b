"""Read a data source (builtin name, CSV, Parquet, NumPy .npz or a DataFrame) into a DataFrame.

A file that cannot be read is one ``DataError`` naming it and what is wrong (empty, not UTF-8, a line with
too many fields, duplicated column names, a damaged archive), never a parser's traceback.
"""

from __future__ import annotations

import csv
import ctypes
import re
import sys
import warnings
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfit.data.builtin import load_builtin
from deepfit.errors import DataError

READERS = (".csv", ".tsv", ".parquet", ".pq", ".npz")
_UTF8_HINT = "save the file as UTF-8 (a spreadsheet's 'CSV UTF-8' format, or: iconv -f latin1 -t utf-8)"
CHUNK_ROWS = 200_000  # rows of a CSV parsed at a time (~30 MB of a 20-column table)
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


def release_memory() -> None:
    """Give the memory freed on the C heap (glibc's ``malloc_trim``; nothing elsewhere) and in pyarrow's pool
    back to the system.

    A large table is read, cleaned and split through many arrays of a few MB; freed, they stay in the process
    as holes in the heap that numpy's next (larger, memory-mapped) arrays do not reuse, so resident memory
    grows by hundreds of MB a stage (measured by ``bench/memory.py``). The stages of the table path call this
    once each, which costs a millisecond or so.
    """
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim if sys.platform.startswith("linux") else False
        except (OSError, AttributeError):  # not glibc (musl): nothing to do
            _TRIM = False
    if _TRIM:
        _TRIM(0)
    if "pyarrow" in sys.modules:  # text columns live in pyarrow's own pool, which keeps what it frees
        sys.modules["pyarrow"].default_memory_pool().release_unused()


_TRIM: Any = None


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
        frame = _read_csv_chunks(path, sep)
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


def _read_csv_chunks(path: Path, sep: str) -> pd.DataFrame:
    """The whole CSV as ``pd.read_csv`` reads it, without its peak: ``CHUNK_ROWS`` rows parsed at a time, each
    column copied out of its chunk, then each column joined on its own and its chunks released (pandas joins
    its chunks all at once, holding a large table about three times over).

    A file of at most ``CHUNK_ROWS`` rows is one chunk, as ``pd.read_csv`` reads it. A column typed differently
    by different chunks is typed as a read of the whole column types it (:func:`_join`); one that pandas leaves
    as a mix of numbers and words (its ``DtypeWarning``) is read again as text: its cells as written.
    """
    with warnings.catch_warnings(), pd.read_csv(path, sep=sep, skipinitialspace=True, chunksize=CHUNK_ROWS) as chunks:
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        first = next(chunks)  # a header alone is one empty chunk
        second = next(chunks, None)
        if second is None:
            return _as_text(path, sep, first, [n for n in first.columns if _mixed(first[n])])
        parts: dict[str, list[pd.Series]] = {name: [] for name in first.columns}
        for chunk in (first, second):
            _add(parts, chunk)
        del first, second
        for chunk in chunks:
            _add(parts, chunk)
            del chunk
    rows = sum(len(part) for part in next(iter(parts.values())))
    columns, again = {}, []
    for name in list(parts):
        columns[name] = _join(parts.pop(name))  # each column's chunks released as soon as it is joined
        if columns[name] is None:
            again.append(name)
            columns[name] = np.full(rows, np.nan)
    return _as_text(path, sep, pd.DataFrame(columns, index=pd.RangeIndex(rows), copy=False), again)


def _add(parts: dict[str, list[pd.Series]], chunk: pd.DataFrame) -> None:
    """Each column of ``chunk`` copied on its own: a column taken from the chunk would keep the chunk's
    two-dimensional block of every numeric column alive."""
    for name in chunk.columns:
        parts[name].append(chunk[name].copy())


def _as_text(path: Path, sep: str, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``frame`` with the columns ``names`` read again as text (the cells as written, missing ones NaN)."""
    if not names:
        return frame
    positions = [list(frame.columns).index(name) for name in names]
    text = pd.read_csv(path, sep=sep, skipinitialspace=True, usecols=positions, dtype=str)
    return frame.assign(**{name: text.iloc[:, i] for i, name in enumerate(names)})


def _join(chunks: list[pd.Series]) -> Any:
    """One column from its chunks, or None when they cannot be joined as one read types the column (read it
    again as text). A chunk holding no value (all missing: floats) takes the type of the others; whole numbers
    and decimals are decimals; yes/no values with missing cells stay Python objects, as pandas reads them."""
    filled = [s for s in chunks if not (s.dtype == np.float64 and s.isna().all())]
    dtypes = {str(s.dtype) for s in filled}
    if not filled or dtypes <= {"int64", "float64"}:
        return np.concatenate([s.to_numpy() for s in chunks])
    if dtypes == {"str"}:
        return pd.concat([s.astype("str") for s in chunks], ignore_index=True).array
    if dtypes <= {"bool", "object"} and not any(_mixed(s) for s in filled):
        joined = np.concatenate([s.to_numpy(dtype=object) for s in chunks])
        return joined.astype(bool) if dtypes == {"bool"} and len(filled) == len(chunks) else joined
    return None


def _mixed(series: pd.Series) -> bool:
    """Python objects that are not all yes/no values: pandas' mix of numbers and words of one column."""
    return series.dtype == object and not all(isinstance(v, bool | np.bool_) for v in series.dropna())


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
