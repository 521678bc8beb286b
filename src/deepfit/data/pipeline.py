"""The data path of a run, top to bottom: read → schema → clean → split → fit preprocessing → tensors.

Tables are prepared here; every other kind of data (images, sequences, time series, text) has a module
of its own with a ``prepare(config, frame) -> PreparedData`` function, found through ``PREPARERS``, and
a preprocessor class found through ``PREPROCESSORS`` when a saved run is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from deepfit.config import Config
from deepfit.data.batches import TensorData
from deepfit.data.clean import clean
from deepfit.data.preprocess import TabularPreprocessor
from deepfit.data.schema import Schema, coerce_numeric, infer_schema, resolve_target
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.data.split import minimum_rows, split_frame, unscored_classes
from deepfit.errors import ConfigError, DataError
from deepfit.models.select import tabular_family


@dataclass
class PreparedData:
    tensors: dict[str, TensorData]  # train, and validation / test when not empty
    frames: dict[str, pd.DataFrame]  # the raw rows of each split, as read
    spec: DataSpec
    preprocessor: Any  # TabularPreprocessor or the kind's own: fit on train, JSON state, tensors out
    schema: Schema | None
    report: dict[str, Any]


# kind -> "module:function" preparing that kind of data (imported only when used)
PREPARERS: dict[str, str] = {
    "image": "deepfit.data.image_pipeline:prepare_images",
    "sequence": "deepfit.data.sequences:prepare_sequences",
    "timeseries": "deepfit.data.timeseries:prepare_timeseries",
    "text": "deepfit.data.text:prepare_text",
}
# kind -> "module:Class" with from_dict(), transform(), transform_target(): the saved preprocessing
PREPROCESSORS: dict[str, str] = {
    "gan": "deepfit.models.gan:GanCodec",  # a GAN run's decoder (not a data kind: predict explains)
    "image": "deepfit.data.image_preprocess:ImagePreprocessor",
    "sequence": "deepfit.data.sequences:SequencePreprocessor",
    "timeseries": "deepfit.data.timeseries:SeriesPreprocessor",
    "tabular": "deepfit.data.preprocess:TabularPreprocessor",
    "text": "deepfit.data.text:TextPreprocessor",
}
# "module:function(config) -> bool" telling whether data.kind auto means that kind (checked in order)
DETECTORS: dict[str, str] = {
    "image": "deepfit.data.image_pipeline:detect_images",
    "text": "deepfit.data.text:looks_like_text",
    "timeseries": "deepfit.data.timeseries:looks_like_timeseries",
    "sequence": "deepfit.data.sequences:looks_like_sequences",
}


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def resolve_kind(config: Config, frame: pd.DataFrame | None = None) -> str:
    """``data.kind``, or for auto: an image folder is images; a kind's detector may claim the data; else a table."""
    kind = config.data.kind
    if kind != "auto":
        if kind != "tabular" and kind not in PREPARERS:
            raise ConfigError(f"data.kind: {kind} data is not supported yet", hint="use data.kind: tabular")
        return kind
    source = config.data.source
    if frame is None and source and not source.startswith("builtin:") and config.resolve_path(source).is_dir():
        return "image"
    for name, detector in DETECTORS.items():
        if _resolve(detector)(config):
            return name
    return "tabular"


def load_preprocessor(raw: dict[str, Any]) -> Any:
    """The saved preprocessing of a run, as the class of its data kind."""
    return _resolve(PREPROCESSORS[raw.get("kind", "tabular")]).from_dict(raw)


def read_input(preprocessor: Any, source: str | Path | pd.DataFrame) -> Any:
    """Raw input for prediction: the kind's own reader (image folder, series file) or a table."""
    reader = getattr(preprocessor, "read_input", None)
    return reader(source) if callable(reader) else read_source(source)


def load_frame(config: Config, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    source = frame if frame is not None else config.data.source
    if source is None:
        raise ConfigError(
            "data.source is not set",
            hint="use builtin:digits, a .csv/.parquet/.npz path, or pass a DataFrame",
        )
    return read_source(source, config.base_dir)


def external_splits(config: Config) -> tuple[str, ...]:
    """The splits read from their own files (data.validation_source, data.test_source)."""
    return tuple(name for name in ("validation", "test") if getattr(config.data, f"{name}_source"))


def inspect_frame(
    config: Config, raw: pd.DataFrame, *, to_split: bool = False
) -> tuple[pd.DataFrame, Schema, dict[str, Any]]:
    """Schema and cleaning of a whole table, with the data report (what ``deepfit inspect`` prints).

    ``to_split``: the table is to be split as data.split says, so it needs the rows for that (else two).
    """
    data = config.data
    target = resolve_target(raw, data, data.source)
    schema = infer_schema(raw, data, target)
    coerced = coerce_numeric(raw, schema, raw.attrs.get("line_offset"))
    keep = tuple(c for c in (data.split.group_column, data.split.order_column) if c)
    min_rows = minimum_rows(data.split, external_splits(config), schema.task) if to_split else 2
    cleaned, report = clean(coerced, schema, data.clean, keep, min_rows)
    if raw.attrs.get("path"):
        report["source"] = raw.attrs["path"]
    return cleaned, schema, report


def prepare(config: Config, frame: pd.DataFrame | None = None) -> PreparedData:
    kind = resolve_kind(config, frame)
    if kind != "tabular":
        return _resolve(PREPARERS[kind])(config, frame)
    return prepare_tabular(config, frame)


def prepare_tabular(config: Config, frame: pd.DataFrame | None = None) -> PreparedData:
    data = config.data
    raw = load_frame(config, frame)
    cleaned, schema, report = inspect_frame(config, raw, to_split=True)

    external = {}
    for name, source in (("validation", data.validation_source), ("test", data.test_source)):
        if source:
            extra = read_source(source, config.base_dir)
            if schema.target not in extra.columns:
                raise DataError(f"data.{name}_source: the target column '{schema.target}' is not in {source}")
            external[name] = extra[extra[schema.target].notna()]
    frames = split_frame(
        cleaned,
        data.split,
        target=schema.target,
        task=schema.task,
        seed=config.train.seed,
        external=tuple(external),
    )
    frames.update(external)

    if data.preprocess.scaling == "auto":  # resolved here and saved so: the run never depends on this choice again
        data.preprocess.scaling = "quantile" if tabular_family(config.model) == "tabm" else "standard"
    preprocessor = TabularPreprocessor.for_config(data.preprocess, data.clean).fit(frames["train"], schema)
    report.update(preprocessor.feature_report())
    tensors, unseen = {}, {}
    for name, part in frames.items():
        if part.empty:
            continue
        target, known = preprocessor.transform_target(part[schema.target])
        if not known.all():  # a class absent from train cannot be learned or scored
            unseen[name] = int((~known).sum())
            part = frames[name] = part[known]
        tensors[name] = TensorData(preprocessor.transform(part, source=f"the {name} data"), target)
    report["splits"] = {name: len(part) for name, part in frames.items()}
    if unseen:
        report["rows_with_classes_unseen_in_train"] = unseen
    if schema.task == "classification" and (unscored := unscored_classes(frames, schema.target)):
        report["classes_not_in_validation_or_test"] = unscored  # too rare to reach them: never scored
    classes = preprocessor.classes
    spec = DataSpec(
        task=schema.task,
        n_features=preprocessor.n_features,
        n_outputs=len(classes) if schema.task == "classification" else 1,
        cardinalities=preprocessor.cardinalities,
        class_names=classes,
        n_train=len(tensors["train"]),
    )
    return PreparedData(tensors, frames, spec, preprocessor, schema, report)
