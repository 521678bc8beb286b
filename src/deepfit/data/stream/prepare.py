"""A table too large for memory, prepared in one pass: schema from the head, split per row, fit on train.

``streaming_reason`` says whether (and why) a run streams; ``prepare_streamed`` returns the same
``PreparedData`` as the in-memory path, with a ``StreamData`` for the training split (and for a validation
or test split larger than ``data.stream.eval_rows``, which is then scored by streaming it). ``open_table``,
``split_plan`` and ``all_splits`` are the steps text and image tables share (``stream.text``, ``stream.image``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import Config
from deepfit.data.batches import TensorData
from deepfit.data.kind import PreparedData
from deepfit.data.stream.fit import StreamFit, TargetStats
from deepfit.data.stream.reader import StreamData
from deepfit.data.stream.rows import SPLIT_CODES, BottomK, RowRule
from deepfit.data.stream.source import (
    STREAMABLE,
    available_memory,
    default_cache_dir,
    memory_estimate,
    parquet_copy,
    source_path,
)
from deepfit.errors import ConfigError, DataError

MIB = 1 << 20


@dataclass
class StreamedData(PreparedData):
    """PreparedData whose splits larger than memory are streams (``streams``: split → StreamData)."""

    streams: dict[str, StreamData] = field(default_factory=dict)


def streamed_kind(config: Config) -> str | None:
    """The kind a streamed file is read as: ``text`` (data.kind text, or auto with data.text.text_column),
    ``image`` (data.kind image: a table of image paths), ``tabular`` (auto or tabular), or None for a kind
    that does not stream. No detector runs on a file to stream, since detectors read the file."""
    kind = config.data.kind
    if kind == "text" or (kind == "auto" and config.data.text.text_column):
        return "text"
    if kind == "image":
        return "image"
    return "tabular" if kind in ("auto", "tabular") else None


def streaming_reason(config: Config, frame: pd.DataFrame | None) -> str | None:
    """Why this run streams its data (a line for the data summary), or None when it reads it into memory."""
    data = config.data
    mode, kind = data.streaming, data.kind
    table = streamed_kind(config) is not None
    if mode is False or (mode == "auto" and (frame is not None or not table or config.model.name == "gan")):
        return None
    if mode is True:
        if frame is not None:
            raise ConfigError("data.streaming is true but the data is a DataFrame", hint="set data.streaming: false")
        if not table:
            raise ConfigError(
                f"data.streaming supports tables, text and tables of image paths, not data.kind {kind} (yet)",
                hint="set data.streaming: false",
            )
        if config.model.name == "gan":
            raise ConfigError("data.streaming does not train GANs yet", hint="set data.streaming: false")
        if data.source and not data.source.startswith("builtin:") and config.resolve_path(data.source).is_dir():
            raise ConfigError(
                f"data.streaming reads a table of image paths, not a folder ({data.source})",
                hint="list the images in a CSV with a path and a label column, or set data.streaming: false",
            )
        return "streamed from disk (data.streaming: true)"
    source = data.source
    if not source or source.startswith("builtin:"):
        return None
    path = config.resolve_path(source)
    if not path.is_file() or path.suffix.lower() not in STREAMABLE:
        return None
    need, have = memory_estimate(path), available_memory()
    budget = data.stream.memory_fraction * have
    if need <= budget:
        return None
    return (
        f"streamed from disk (data.streaming: auto): {path.name} takes about {need / MIB:,.0f} MiB in memory, "
        f"above {data.stream.memory_fraction:.0%} of the {have / MIB:,.0f} MiB available"
    )


def prepare_streamed(config: Config, reason: str) -> StreamedData:
    from deepfit.data.schema import infer_schema, resolve_target
    from deepfit.data.tabular.kind import TabularKind
    from deepfit.models.select import tabular_family

    data, settings = config.data, config.data.stream
    path, table_path, table, head = open_table(config)
    target = resolve_target(head, data, data.source)
    schema = infer_schema(head, data, target)
    group = data.split.group_column
    if group and group not in head.columns:
        raise DataError(f"data.split.group_column '{group}' is not a column of {path}")
    if data.preprocess.scaling == "auto":  # as TabularKind.fit resolves it, and saved resolved
        data.preprocess.scaling = "quantile" if tabular_family(config.model) == "tabm" else "standard"
    columns = list(dict.fromkeys([*schema.features, target, *([group] if group else [])]))
    external, shares, seed = split_plan(config)
    rule = RowRule(target, schema.task, schema.features, shares, seed, group)
    rule.drop_missing = data.clean.missing == "drop"

    fitter = StreamFit(config, schema)
    held = {name: BottomK(settings.eval_rows) for name in ("validation", "test")}
    counts = {"rows_in": 0, "missing_target_rows": 0, "rows_out": 0}
    missing = pd.Series(0, index=schema.features, dtype=np.int64)
    for group_index in range(table.num_row_groups):
        frame = table.read_row_group(group_index, columns=columns).to_pandas()
        counts["rows_in"] += len(frame)
        counts["missing_target_rows"] += int(frame[target].isna().sum())
        frame = frame[rule.usable(frame)]
        counts["rows_out"] += len(frame)
        missing += frame[schema.features].isna().sum()
        codes, priority = rule.codes(frame)
        for name, code in SPLIT_CODES.items():
            rows = codes == code
            if name == "train":
                fitter.add(frame[rows], priority[rows])
            elif name not in external:
                held[name].add(frame[rows], priority[rows])
    if fitter.rows < 2:
        raise DataError(f"{path}: the training split holds {fitter.rows} rows", hint="check data.split and the file")
    pre = fitter.preprocessor()

    report = _report(config, schema, pre, fitter, counts, missing, reason, table_path, path)
    frames = {"train": fitter.sample.frame(columns)}

    stream = stream_maker(config, TabularKind(), table_path, columns, rule, pre)
    tensors, frames, streams = all_splits(
        config, TabularKind(), stream, fitter.rows, fitter.target, held, external, report, frames["train"]
    )
    spec = TabularKind().spec(config, pre, tensors, report)
    return StreamedData(tensors, frames, spec, pre, schema, report, streams)


def stream_maker(
    config: Config, kind: Any, path: Path, columns: list[str], rule: RowRule, pre: Any, resolve: Any = None
) -> Callable[[str, int], StreamData]:
    """``stream(split, rows)``: the StreamData of one split of the Parquet copy, preprocessed by ``pre``, with the
    kind's augmentation of that split (``resolve``: the usable rows before ``transform``, e.g. image paths)."""
    settings = config.data.stream

    def stream(split: str, rows: int) -> StreamData:
        return StreamData(
            path,
            columns,
            rule,
            split,
            pre,
            rows,
            buffer=settings.shuffle_buffer,
            prefetch=settings.prefetch,
            augment=kind.augment(config, pre, split),
            resolve=resolve,
        )

    return stream


def all_splits(
    config: Config,
    kind: Any,
    stream: Callable[[str, int], StreamData],
    rows: int,
    target_stats: TargetStats,
    held: dict[str, BottomK],
    external: tuple[str, ...],
    report: dict[str, Any],
    train_sample: pd.DataFrame,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame], dict[str, StreamData]]:
    """The training stream, and validation and test: in memory when their sample holds them whole (or read
    from their own file by the ``kind``), else also a stream scoring them exactly; ``report["splits"]``."""
    data = config.data
    tensors: dict[str, Any] = {"train": stream("train", rows)}
    pre = tensors["train"].preprocessor
    frames, streams = {"train": train_sample}, {}
    tensors["train"].counts = (
        [int(target_stats.classes.get(c, 0)) for c in pre.classes] if pre.task == "classification" else []
    )
    columns = tensors["train"].columns
    target = pre.target
    unseen = {}
    for name in ("validation", "test"):
        if name in external:
            part = kind.read_external(config, name, getattr(data, f"{name}_source"), report)
            complete = True
        else:
            part, complete = held[name].frame(columns), held[name].complete
        if len(part) == 0:
            continue
        y, known = pre.transform_target(part[target])
        if not known.all():
            unseen[name] = int((~known).sum())
        part = part[known]
        tensors[name] = TensorData(pre.transform(part, source=f"the {name} data"), y)
        frames[name] = part
        if not complete:
            streams[name] = stream(name, held[name].seen)
            report["notes"].append(
                f"the {name} split ({held[name].seen:,} rows) is scored exactly by streaming it; early stopping "
                f"and the saved test predictions use a uniform sample of {len(part):,} of its rows"
            )
    report["splits"] = {
        "train": rows,
        **{n: (streams[n].rows if n in streams else len(frames[n])) for n in ("validation", "test") if n in frames},
    }
    if unseen:
        report["rows_with_classes_unseen_in_train"] = unseen
    return tensors, frames, streams


def open_table(config: Config) -> tuple[Path, Path, Any, pd.DataFrame]:
    """data.source, its Parquet copy (made once, in data.stream.cache_dir), the open file and its head."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    settings = config.data.stream
    path = source_path(config)
    # Arrow's default allocator (jemalloc or mimalloc) keeps freed pages and reserves about a GiB of address
    # space; a scan of a large file then grows in memory (apache/arrow #33759, #39808). The C library's
    # allocator gives them back: measured here, it halves the peak memory of a streamed run.
    pa.set_memory_pool(pa.system_memory_pool())
    if config.data.split.order_column:
        raise ConfigError(
            "data.split.order_column is not supported with data.streaming yet",
            hint="split the file by time into data.validation_source / data.test_source, or stream without it",
        )
    cache = config.resolve_path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    if settings.cache_dir:  # saved absolute, as data.source is: a resume reads the run's config from elsewhere
        settings.cache_dir = str(cache)
    table_path = parquet_copy(path, settings.chunk_rows, cache)
    table = pq.ParquetFile(table_path)
    head = _head(table, settings.sample_rows)
    head.attrs["path"] = str(path)
    return path, table_path, table, head


def split_plan(config: Config) -> tuple[tuple[str, ...], tuple[float, float, float], int]:
    """The splits read from their own files, the split fractions (train, validation, test) and the seed."""
    from deepfit.data.split import split_fractions
    from deepfit.data.tabular.kind import external_splits

    data = config.data
    external = external_splits(config)
    fractions = split_fractions(data.split, external)
    seed = data.split.seed if data.split.seed is not None else config.train.seed
    return external, (float(fractions[0]), float(fractions[1]), float(fractions[2])), seed


def _head(table: Any, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows, read a row group at a time."""
    parts, count = [], 0
    for group in range(table.num_row_groups):
        if count >= rows:
            break
        parts.append(table.read_row_group(group).to_pandas())
        count += len(parts[-1])
    if not count:
        raise DataError(f"{table.metadata} holds no rows", hint="check that the file is complete")
    return pd.concat(parts, ignore_index=True).head(rows)


def _report(
    config: Config,
    schema: Any,
    pre: Any,
    fitter: StreamFit,
    counts: dict[str, int],
    missing: pd.Series,
    reason: str,
    table_path: Path,
    path: Path,
) -> dict[str, Any]:
    """The data report in the in-memory path's shape, with what streaming did in its notes."""
    settings = config.data.stream
    sample = "the whole training split" if fitter.sample.complete else f"a uniform sample of {settings.sample_rows:,}"
    notes = [
        reason,
        f"column kinds from the first {settings.sample_rows:,} rows; quantiles, medians, dates and text fitted on "
        f"{sample}; no duplicate or conflict removal while streaming",
    ]
    for column, n in fitter.text_cells.items():
        if n:
            notes.append(f"column '{column}': {n:,} cells of the training split are not numbers; treated as missing")
    if table_path != path:
        notes.append(f"Parquet copy: {table_path}")
    return {
        "source": str(path),
        "rows_in": counts["rows_in"],
        "rows_out": counts["rows_out"],
        "target": schema.target,
        "task": schema.task,
        "missing_target_rows": counts["missing_target_rows"],
        "duplicate_rows": 0,
        "conflicts": {},
        "missing_values": {c: int(n) for c, n in missing.items() if n},
        "missing_policy": config.data.clean.missing,
        "unparseable_cells": {},
        "infinite_cells": {},
        "dropped_columns": dict(schema.dropped),
        "columns": dict(schema.kinds),
        "date_formats": {c: f for c, f in schema.date_formats.items() if c in schema.kinds},
        "target_summary": fitter.target.summary(),
        "streaming": {"parquet": str(table_path), "sample_rows": len(fitter.sample.keys), "train_rows": fitter.rows},
        "notes": notes,
        **pre.feature_report(),
    }
