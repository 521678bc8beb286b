"""The data path of an image run, as the tabular one: read → decode → clean → split → fit → tensors.

Cleaning works on a hash of each file's bytes (of the pixels for images held in memory): identical
images with the same label are duplicates (removed with ``data.clean.drop_duplicates``), identical
images with different labels are conflicts (``data.clean.conflicts``: keep, drop, majority). Corrupt
files are named in the data report and skipped, or stop the run (``data.image.on_error: error``).
The split is ``split_frame`` on a table of (path, label) rows, so it is stratified, grouped or ordered
exactly as for tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import Config, ImageConfig
from deepfit.data.clean import check_usable, resolve_conflicts, target_summary
from deepfit.data.image.augment import build_augment
from deepfit.data.image.decode import (
    builtin_digits,
    convert_array,
    decode_files,
    default_cache_dir,
    failures_error,
    is_image_file,
    list_class_folder,
    pixel_hashes,
    resolve_path_column,
)
from deepfit.data.image.preprocess import ImagePreprocessor
from deepfit.data.kind import DataKind
from deepfit.data.schema import infer_task
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError, DataError

HASH, ROW = "__hash", "__row"  # internal columns: image identity, and its row in the pixel array
TABLES = (".csv", ".tsv", ".parquet", ".pq")


def detect_images(config: Config) -> bool:
    """data.kind auto: a data.image setting, or a CSV whose path column names image files, means images.

    (A folder is found as images before detectors run.) A section equal to the defaults does not count: a
    config re-loaded from a Config or a saved config.yaml writes every section out. Only the CSV's first
    rows are read.
    """
    data = config.data
    if data.image != ImageConfig():
        return True
    if not data.source or Path(data.source).suffix.lower() not in (".csv", ".tsv"):
        return False
    path = config.resolve_path(data.source)
    try:
        head = pd.read_csv(path, nrows=5, sep="\t" if path.suffix.lower() == ".tsv" else ",", skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # the tabular reader reports what is wrong with the file
    column = data.image.path_column
    return column in head.columns and len(head) > 0 and all(is_image_file(Path(str(v))) for v in head[column])


class ImageKind(DataKind[ImagePreprocessor]):
    """Parts are ``(records, pixels)``: a table of (path, label, hash, row) and the uint8 pixels it indexes."""

    name = "image"
    preprocessor = ImagePreprocessor
    section = "images"

    def detect(self, config: Config) -> bool:
        return detect_images(config)

    def read(self, config: Config, frame: pd.DataFrame | None) -> tuple[pd.DataFrame, np.ndarray]:
        if frame is None and config.data.source is None:
            raise ConfigError(
                "data.source is not set", hint="use an image folder, a CSV of image paths, or builtin:digits"
            )
        source = config.data.source or ""  # without a source, the frame is read and named "the DataFrame"
        records, pixels, self.facts = load_images(config, source, frame)
        return records, pixels

    def clean(self, config: Config, raw: tuple[pd.DataFrame, np.ndarray]) -> tuple[tuple, dict[str, Any]]:
        (records, pixels), facts, data = raw, self.facts, config.data
        target = facts["target"]
        report: dict[str, Any] = {"rows_in": facts["rows_in"], "target": target, "source": facts["origin"]}
        report["missing_target_rows"] = facts["missing_target_rows"]
        folder = facts["folder"]
        task = data.task if data.task != "auto" else ("classification" if folder else infer_task(records[target]))
        if folder and task == "regression":
            raise ConfigError(
                "data.task: regression needs numeric labels; an image folder's labels are its sub-folder names",
                hint="use data.task: classification, or a CSV with a path column and a numeric label column",
            )
        report["task"] = task
        paths, clean = facts["path_column"], data.clean
        records, report["duplicate_rows"], self.duplicates = _drop_duplicates(
            records, target, paths, clean.drop_duplicates
        )
        records, report["conflicts"] = resolve_conflicts(records, [HASH], target, task, clean.conflicts, show=paths)
        check_usable(records, target, task, origin=facts["origin"])
        report["rows_out"] = len(records)
        report["target_summary"] = target_summary(records[target], task)
        return (records, pixels), report

    def split(self, config: Config, cleaned: tuple, report: dict[str, Any]) -> dict[str, tuple]:
        records, pixels = cleaned
        return {name: (part, pixels) for name, part in super().split(config, records, report).items()}

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> tuple:
        size, mode = self.facts["size"], self.facts["mode"]
        extra, extra_pixels, _ = load_images(config, source, size=size, mode=mode)
        if report["target"] not in extra.columns:
            raise DataError(f"data.{name}_source: {source} has no labels ('{report['target']}')")
        return extra, extra_pixels

    def fit(self, config: Config, train: tuple, report: dict[str, Any]) -> ImagePreprocessor:
        (records, pixels), facts, target = train, self.facts, report["target"]
        pre = ImagePreprocessor(
            target=target,
            task=report["task"],
            size=facts["size"],
            mode=facts["mode"],
            path_column=config.data.image.path_column,
        )
        return pre.fit(pixels[records[ROW].to_numpy()], records[target])

    def labels(self, part: tuple, target: str) -> pd.Series:
        return part[0][target]

    def take(self, part: tuple, mask: np.ndarray) -> tuple:
        return part[0][mask], part[1]

    def size(self, part: tuple) -> int:
        return len(part[0])

    def inputs(self, pre: ImagePreprocessor, part: tuple, source: str) -> tuple:
        records, pixels = part
        return (pre.normalize(pixels[records[ROW].to_numpy()]),)

    def augment(self, config: Config, pre: ImagePreprocessor, split: str) -> Any:
        if split != "train":
            return None
        n_classes = len(pre.classes) if pre.task == "classification" else 0
        return build_augment(config.data.augment, pre.state["mean"], pre.state["std"], n_classes)

    def frame(self, part: tuple) -> pd.DataFrame:
        return part[0].drop(columns=[HASH, ROW])

    def finish_report(self, config: Config, report: dict, pre: ImagePreprocessor, tensors: dict, frames: dict) -> None:
        report["images"] = _image_facts(self.facts, pre, self.duplicates)
        report["notes"] = _notes(report["images"], report)

    def spec(self, config: Config, pre: ImagePreprocessor, tensors: dict, report: dict[str, Any]) -> DataSpec:
        channels, (height, width) = pre.channels, pre.size
        return DataSpec(
            task=report["task"],
            n_features=channels * height * width,
            n_outputs=len(pre.classes) if report["task"] == "classification" else 1,
            class_names=pre.classes,
            kind="image",
            input_shape=[channels, height, width],
            n_train=len(tensors["train"]),
        )


# ---------------------------------------------------------------- reading
def load_images(
    config: Config,
    source: str,
    frame: pd.DataFrame | None = None,
    *,
    size: tuple[int, int] | None = None,
    mode: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """One record per decoded image (its row in the pixel array in ``__row``), the pixels, and the facts."""
    image = config.data.image
    size, mode = size or image.size, mode or image.mode
    facts: dict[str, Any] = {"origin": str(source), "folder": False, "missing_target_rows": 0, "failures": []}
    if frame is None and str(source).startswith("builtin:"):
        records, pixels = _builtin(str(source), config)
        facts.update(target=records.columns[1], path_column="path", sizes_seen={"8x8": len(pixels)})
        if size or mode == "rgb":
            pixels = convert_array(pixels[:, 0], size or (8, 8), "rgb" if mode == "rgb" else "grayscale", str(source))
        facts["size"] = tuple(int(n) for n in pixels.shape[2:])
        facts.update(mode="grayscale" if pixels.shape[1] == 1 else "rgb", rows_in=len(records))
        records[HASH], records[ROW] = pixel_hashes(pixels), np.arange(len(records))
        return records, pixels, facts

    path_column = "path"
    if frame is not None or Path(str(source)).suffix.lower() in TABLES:
        path_column = image.path_column
        table = frame.reset_index(drop=True) if frame is not None else read_source(source, config.base_dir)
        base = config.base_dir if frame is not None else config.resolve_path(source).parent
        facts["origin"] = "the DataFrame" if frame is not None else table.attrs.get("path", str(source))
        records = resolve_path_column(table, path_column, base, facts["origin"])
        target = _table_target(records, config, facts["origin"])
        facts["missing_target_rows"] = int(records[target].isna().sum())
        records = records[records[target].notna()]
    else:
        folder = config.resolve_path(source)
        target = config.data.target or "label"
        records, facts["folder"], facts["origin"] = list_class_folder(folder, target), True, str(folder)
    facts["target"], facts["rows_in"] = target, len(records) + facts["missing_target_rows"]
    facts["path_column"] = path_column

    cache = (Path(image.cache_dir) if image.cache_dir else default_cache_dir()) if image.cache else None
    decoded = decode_files(records[path_column].tolist(), size=size, mode=mode, cache_dir=cache)
    if decoded.failures and image.on_error == "error":
        raise failures_error(decoded.failures, facts["origin"])
    records = records[decoded.ok].reset_index(drop=True)
    records[HASH] = [h for h, keep in zip(decoded.hashes, decoded.ok, strict=True) if keep]
    records[ROW] = np.arange(len(records))
    facts.update(size=decoded.size, mode=decoded.mode, sizes_seen=decoded.sizes_seen, failures=decoded.failures)
    return records, decoded.pixels, facts


def _builtin(source: str, config: Config) -> tuple[pd.DataFrame, np.ndarray]:
    name = source.removeprefix("builtin:")
    if name != "digits":
        raise DataError(
            f"data.source: {source} is not an image dataset",
            hint="builtin:digits is (8x8 grayscale); for the others use data.kind: tabular",
        )
    records, pixels = builtin_digits()
    if config.data.target and config.data.target != "target":
        records = records.rename(columns={"target": config.data.target})
    return records, pixels


def _table_target(records: pd.DataFrame, config: Config, origin: str) -> str:
    target = config.data.target or next((c for c in ("label", "target") if c in records.columns), None)
    if target is None or target not in records.columns:
        named = f"the label column '{target}' is" if target else "no label column is named; it is"
        raise DataError(
            f"{named} not in {origin}",
            hint=f"set data.target to one of: {', '.join(map(str, records.columns[:20]))}",
        )
    return target


# ---------------------------------------------------------------- cleaning
def _drop_duplicates(
    records: pd.DataFrame, target: str, name: str, enabled: bool
) -> tuple[pd.DataFrame, int, list[str]]:
    """Identical images with the same label: keep the first; report pairs as 'copy = original'."""
    if not enabled:
        return records, 0, []
    duplicated = records.duplicated(subset=[HASH, target], keep="first")
    kept = records[~duplicated]
    first = dict(zip(zip(kept[HASH], kept[target], strict=True), kept[name], strict=True))
    copies = records[duplicated].head(5)
    examples = [
        f"{copy} = {first[key]}"
        for copy, key in zip(copies[name], zip(copies[HASH], copies[target], strict=True), strict=True)
    ]
    return records[~duplicated], int(duplicated.sum()), examples


# ---------------------------------------------------------------- report
def _image_facts(facts: dict[str, Any], pre: ImagePreprocessor, duplicates: list[str]) -> dict[str, Any]:
    return {
        "size": list(pre.size),
        "mode": pre.state["mode"],
        "channels": pre.channels,
        "sizes_seen": facts.get("sizes_seen", {}),
        "unreadable": facts["failures"],
        "duplicate_examples": duplicates,
        "mean": pre.state["mean"],
        "std": pre.state["std"],
    }


def _notes(images: dict[str, Any], report: dict[str, Any]) -> list[str]:
    seen = ", ".join(f"{k} ({v})" for k, v in list(images["sizes_seen"].items())[:3])
    height, width = images["size"]
    lines = [f"images decoded to {height}x{width} {images['mode']} (sizes seen: {seen})"]
    failures = images["unreadable"]
    if failures:
        named = "; ".join(f"{f['path']} ({f['reason']})" for f in failures[:3])
        more = f"; … ({len(failures)} in all, see data_report.json)" if len(failures) > 3 else ""
        lines.append(f"skipped {len(failures)} unreadable image(s): {named}{more}")
    if images["duplicate_examples"]:
        lines.append("identical images, e.g. " + "; ".join(images["duplicate_examples"][:2]))
    for group in report["conflicts"].get("examples", [])[:2]:
        lines.append("identical images with different labels: " + ", ".join(group[:3]))
    return lines
