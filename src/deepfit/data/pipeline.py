"""The data path of a run, top to bottom: read → schema → clean → split → fit preprocessing → tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from deepfit.config import Config
from deepfit.data.batches import TensorData
from deepfit.data.clean import clean
from deepfit.data.preprocess import TabularPreprocessor
from deepfit.data.schema import Schema, coerce_numeric, infer_schema, resolve_target
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.data.split import split_frame
from deepfit.errors import ConfigError, DataError


@dataclass
class PreparedData:
    tensors: dict[str, TensorData]  # train, and validation / test when not empty
    frames: dict[str, pd.DataFrame]  # the raw rows of each split, as read
    spec: DataSpec
    preprocessor: TabularPreprocessor
    schema: Schema
    report: dict[str, Any]


def load_frame(config: Config, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    source = frame if frame is not None else config.data.source
    if source is None:
        raise ConfigError(
            "data.source is not set",
            hint="use builtin:digits, a .csv/.parquet/.npz path, or pass a DataFrame",
        )
    return read_source(source, config.base_dir)


def inspect_frame(config: Config, raw: pd.DataFrame) -> tuple[pd.DataFrame, Schema, dict[str, Any]]:
    """Schema and cleaning of a whole table, with the data report (what ``deepfit inspect`` prints)."""
    data = config.data
    target = resolve_target(raw, data, data.source)
    schema = infer_schema(raw, data, target)
    coerced = coerce_numeric(raw, schema, raw.attrs.get("line_offset"))
    keep = tuple(c for c in (data.split.group_column, data.split.order_column) if c)
    cleaned, report = clean(coerced, schema, data.clean, keep)
    if raw.attrs.get("path"):
        report["source"] = raw.attrs["path"]
    return cleaned, schema, report


def prepare(config: Config, frame: pd.DataFrame | None = None) -> PreparedData:
    data = config.data
    raw = load_frame(config, frame)
    cleaned, schema, report = inspect_frame(config, raw)

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

    preprocessor = TabularPreprocessor.for_config(data.preprocess, data.clean).fit(frames["train"], schema)
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
    classes = preprocessor.classes
    spec = DataSpec(
        task=schema.task,
        n_features=preprocessor.n_features,
        n_outputs=len(classes) if schema.task == "classification" else 1,
        cardinalities=preprocessor.cardinalities,
        class_names=classes,
    )
    return PreparedData(tensors, frames, spec, preprocessor, schema, report)
