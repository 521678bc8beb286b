"""A CSV (or Parquet) of image paths and labels too large to decode into memory: files decoded as rows come.

The table is read as a streamed table is (``open_table``; the split a hash of each row's path and label,
``RowRule``). The image size and mode (``data.image.size`` / ``mode``, or from the files) are resolved on the
first rows' files. One pass over the table then decodes every usable row's file, chunk by chunk:

- training rows: per-channel counts of each pixel value 0..255 (``channel_counts``), summed over the chunks:
  the same numbers ``ImagePreprocessor.fit`` counts on all the training pixels at once, so the mean and
  standard deviation are exact; the target's classes or moments;
- validation and test rows: their uniform samples (``BottomK``), held in memory as tensors;
- files that cannot be decoded: named in the report (or, with ``data.image.on_error: error``, the run
  stops), and left out of every later pass (``RowRule.unreadable``).

The result is the ``ImagePreprocessor`` state the in-memory path saves. ``StreamData`` then decodes each
row group's files as its rows are batched (the preprocessor's ``transform``), and the kind's augmentation
applies to training batches. Unlike the in-memory path, duplicate images and conflicting labels are kept.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from deepfit.config import Config
from deepfit.data.stream.fit import TargetStats
from deepfit.data.stream.prepare import StreamedData, all_splits, open_table, split_plan, stream_maker
from deepfit.data.stream.rows import SPLIT_CODES, BottomK, RowRule
from deepfit.errors import DataError

HEAD_FILES = 256  # files of the first rows that decide the image size and mode when the config does not


def prepare_streamed_image(config: Config, reason: str) -> StreamedData:
    from deepfit.data.image.decode import decode_files, failures_error, resolve_path_column
    from deepfit.data.image.kind import ImageKind
    from deepfit.data.image.preprocess import ImagePreprocessor, channel_counts
    from deepfit.data.schema import infer_task, resolve_target

    data, settings, image = config.data, config.data.stream, config.data.image
    path, table_path, table, head = open_table(config)
    column = image.path_column
    target = resolve_target(head, data, data.source)
    resolve = partial(resolve_path_column, column=column, base=path.parent, source=str(path))
    task = data.task if data.task != "auto" else infer_task(head[target])
    first = resolve(head[head[target].notna()].head(HEAD_FILES))
    shape = decode_files(first[column].tolist(), size=image.size, mode=image.mode)
    if not shape.ok.any():
        raise DataError(f"none of the first {len(first)} images of {path} can be read", hint="check the paths")
    size, mode = shape.size, shape.mode
    group = data.split.group_column
    if group and group not in head.columns:
        raise DataError(f"data.split.group_column '{group}' is not a column of {path}")
    columns = list(dict.fromkeys([column, target, *([group] if group else [])]))
    external, shares, seed = split_plan(config)
    rule = RowRule(target, task, [column], shares, seed, group, path_column=column)

    stats = TargetStats(task)
    counts = np.zeros((3 if mode == "rgb" else 1, 256), dtype=np.int64)
    held = {name: BottomK(settings.eval_rows) for name in ("validation", "test")}
    sample = BottomK(settings.sample_rows)
    failures: list[dict[str, str]] = []
    unreadable: set[str] = set()
    rows_in = missing = 0
    for index in range(table.num_row_groups):
        frame = table.read_row_group(index, columns=columns).to_pandas()
        rows_in += len(frame)
        missing += int(frame[target].isna().sum())
        frame = frame[rule.usable(frame)]
        files = resolve(frame)
        decoded = decode_files(files[column].tolist(), size=size, mode=mode)
        if decoded.failures:
            if image.on_error == "error":
                raise failures_error(decoded.failures, str(path))
            failures += decoded.failures
            unreadable.update(frame[column].astype(str)[~decoded.ok])
        files = files[decoded.ok]
        codes, priority = rule.codes(frame[decoded.ok])
        train = codes == SPLIT_CODES["train"]
        counts += channel_counts(decoded.pixels[train])
        stats.add(files[target][train])
        sample.add(files[train], priority[train])
        for name, code in SPLIT_CODES.items():
            if name != "train" and name not in external:
                held[name].add(files[codes == code], priority[codes == code])
    rule.unreadable = frozenset(unreadable)
    if sample.seen < 2:
        raise DataError(f"{path}: the training split holds {sample.seen} images", hint="check data.split and the file")
    pre = ImagePreprocessor(target=target, task=task, size=size, mode=mode, path_column=column)
    pre.fitted(counts, stats.state(True))

    kind = ImageKind()
    kind.facts = {"size": size, "mode": mode}  # what read_external decodes a data.validation_source at
    report = _report(reason, path, table_path, target, task, rows_in, missing, sample.seen, stats, failures)
    report["rows_out"] = sum(b.seen for b in (sample, *held.values()))

    stream = stream_maker(config, kind, table_path, columns, rule, pre, resolve=resolve)
    tensors, frames, streams = all_splits(
        config, _Paths(kind), stream, sample.seen, stats, held, external, report, sample.frame(columns)
    )
    report["images"] = {"size": list(size), "mode": mode, "unreadable": len(failures), "mean": pre.state["mean"]}
    spec = kind.spec(config, pre, tensors, report)
    return StreamedData(tensors, frames, spec, pre, None, report, streams)


class _Paths:
    """An external validation or test file read as a table of paths (decoded by the preprocessor)."""

    def __init__(self, kind: Any) -> None:
        self.kind = kind

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> Any:
        from deepfit.data.image.kind import load_images

        facts = self.kind.facts
        return load_images(config, source, size=facts["size"], mode=facts["mode"])[0]


def _report(
    reason: str,
    path: Any,
    table_path: Any,
    target: str,
    task: str,
    rows_in: int,
    missing: int,
    train: int,
    stats: TargetStats,
    failures: list[dict[str, str]],
) -> dict[str, Any]:
    """The data report in the in-memory image path's shape, with what streaming did in its notes."""
    notes = [reason, f"{train:,} training images decoded chunk by chunk; no duplicate or conflict removal"]
    if failures:
        shown = ", ".join(f["path"] for f in failures[:5])
        many = "images cannot" if len(failures) > 1 else "image cannot"
        notes.append(f"{len(failures):,} {many} be read and are left out ({shown})")
    if table_path != path:
        notes.append(f"Parquet copy: {table_path}")
    return {
        "source": str(path),
        "rows_in": rows_in,
        "target": target,
        "task": task,
        "missing_target_rows": missing,
        "duplicate_rows": 0,
        "conflicts": {},
        "target_summary": stats.summary(),
        "failures": failures[:100],
        "streaming": {"parquet": str(table_path), "train_rows": train},
        "notes": notes,
    }
