"""The streamed table on disk: a Parquet file read by row groups; a CSV converted to one once, into a cache.

The CSV is read by pyarrow's streaming reader (``pyarrow.csv.open_csv``: one block at a time) and written by
``pyarrow.parquet.ParquetWriter`` in row groups of ``data.stream.chunk_rows`` rows, so neither side holds the
file. Column types come from pandas on the head of the file (what the in-memory path would infer there); a
column that later holds a cell its type cannot take (a word in a column of numbers) is converted again as
text, which the preprocessor then parses as the in-memory path does. The copy is named by the source's path,
size and modification time, written to a temporary file and renamed, so a killed conversion leaves nothing
that a later run could take for a finished one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from deepfit.errors import ConfigError, DataError

STREAMABLE = (".csv", ".tsv", ".parquet", ".pq")
_COLUMN = re.compile(r"column #(\d+)")


def source_path(config: Any) -> Path:
    """``data.source`` as a file deepfit can stream, or a ConfigError saying why it cannot."""
    from deepfit.data.sources import require_file

    source = config.data.source
    if not source or str(source).startswith("builtin:"):
        raise ConfigError(
            f"data.streaming needs a .csv or .parquet file as data.source (got {source})",
            hint="set data.streaming: false for builtin datasets and DataFrames",
        )
    path = config.resolve_path(source)
    require_file(path)
    if path.suffix.lower() not in STREAMABLE:
        raise ConfigError(
            f"data.streaming reads {', '.join(STREAMABLE)} files, not {path.suffix} ({path})",
            hint="convert the data to Parquet or CSV, or set data.streaming: false",
        )
    return path


def memory_estimate(path: Path) -> int:
    """Bytes the table would take in memory: Parquet's uncompressed size, or a CSV's size on disk."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path).metadata
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return path.stat().st_size


def available_memory() -> int:
    """Bytes of memory available now (Linux: MemAvailable; elsewhere the free physical pages)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def parquet_copy(path: Path, chunk_rows: int, cache_dir: Path) -> Path:
    """The Parquet file to stream: ``path`` itself when it is Parquet with small row groups, else a cached copy."""
    import pyarrow.parquet as pq

    if path.suffix.lower() in (".parquet", ".pq"):
        meta = pq.ParquetFile(path).metadata
        largest = max((meta.row_group(i).num_rows for i in range(meta.num_row_groups)), default=0)
        if largest <= 4 * chunk_rows:
            return path
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{chunk_rows}".encode()).hexdigest()
    target = cache_dir / f"{path.stem[:40]}-{key[:16]}.parquet"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            _rewrite_parquet(path, temp, chunk_rows)
        else:
            _convert_csv(path, temp, chunk_rows, "\t" if path.suffix.lower() == ".tsv" else ",")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deepfit" / "stream"


def _rewrite_parquet(path: Path, temp: Path, chunk_rows: int) -> None:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    with pq.ParquetWriter(temp, source.schema_arrow) as writer:
        for batch in source.iter_batches(batch_size=chunk_rows):
            writer.write_batch(batch, row_group_size=chunk_rows)


def _convert_csv(path: Path, temp: Path, chunk_rows: int, sep: str) -> None:
    """CSV → Parquet in one streaming pass; a column whose type a later block breaks is read again as text."""
    import pyarrow as pa

    head = pd.read_csv(path, sep=sep, nrows=10000, skipinitialspace=True)
    if head.empty:
        raise DataError(f"{path}: the file holds no rows", hint="check that the file is complete")
    types = {str(c): _arrow_type(head[c]) for c in head.columns}
    for _ in range(len(types) + 1):
        try:
            _write_csv(path, temp, chunk_rows, sep, types)
            return
        except pa.ArrowInvalid as exc:
            found = _COLUMN.search(str(exc))
            names = list(types)
            if found is None or int(found.group(1)) >= len(names) or types[names[int(found.group(1))]] == pa.string():
                raise DataError(
                    f"{path}: cannot be read: {exc}", hint="check the file is a valid, complete table"
                ) from None
            types[names[int(found.group(1))]] = pa.string()


def _write_csv(path: Path, temp: Path, chunk_rows: int, sep: str, types: dict[str, Any]) -> None:
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    reader = pv.open_csv(
        path,
        read_options=pv.ReadOptions(block_size=8 << 20),
        parse_options=pv.ParseOptions(delimiter=sep),
        convert_options=pv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    with pq.ParquetWriter(temp, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=chunk_rows)


def _arrow_type(column: pd.Series) -> Any:
    import pyarrow as pa

    if pd.api.types.is_bool_dtype(column):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(column):
        return pa.int64()  # Arrow integers take empty cells as missing values
    if pd.api.types.is_numeric_dtype(column):
        return pa.float64()
    return pa.string()
