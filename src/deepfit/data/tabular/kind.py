"""Tables: read → schema → clean (whole table) → split → TabularPreprocessor fitted on train → tensors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from deepfit.config import Config
from deepfit.data.clean import clean
from deepfit.data.kind import DataKind, PreparedData, Preprocessor
from deepfit.data.schema import Schema, coerce_numeric, infer_schema, resolve_target
from deepfit.data.sources import read_source, release_memory
from deepfit.data.spec import DataSpec
from deepfit.data.split import minimum_rows, split_frame, unscored_classes
from deepfit.data.tabular.preprocess import TabularPreprocessor, shared_labels
from deepfit.errors import ConfigError
from deepfit.models.select import tabular_family

if TYPE_CHECKING:
    import torch


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


COMPACT_ROWS = 500_000  # from this many rows, the split frames are kept compact (TabularKind.inputs)


class TabularKind(DataKind[TabularPreprocessor]):
    """The fallback of ``data.kind: auto``: what no other kind claims is a table."""

    name = "tabular"
    preprocessor = TabularPreprocessor
    section = "columns"

    def __init__(self) -> None:
        self.schema: Schema | None = None  # the whole table's, kept for PreparedData.schema
        self.compact = False  # a large table's split frames are kept compact (``inputs``)

    # A large table's stages each free arrays of a few MB; ``release_memory`` hands that memory back after each,
    # so that the next stage's arrays do not come on top of it (bench/memory.py, docs/tables.md: Memory).
    def read(self, config: Config, frame: pd.DataFrame | None) -> pd.DataFrame:
        raw = load_frame(config, frame)
        release_memory()
        return raw

    def clean(self, config: Config, raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        cleaned, self.schema, report = inspect_frame(config, raw, to_split=True)
        # a GAN encodes the frames themselves (its own codec): they stay as read
        self.compact = len(cleaned) >= COMPACT_ROWS and config.model.name != "gan"
        release_memory()
        return cleaned, report

    def split(self, config: Config, cleaned: pd.DataFrame, report: dict[str, Any]) -> dict[str, pd.DataFrame]:
        """The cleaned table's rows into train, validation and test; the table is used up by it (its columns move
        into the parts one by one), so a large table is held once while it is split."""
        split, seed = config.data.split, config.train.seed
        target, task, external = report["target"], report["task"], external_splits(config)
        parts = split_frame(cleaned, split, target=target, task=task, seed=seed, external=external, release=True)
        release_memory()
        return parts

    def fit(self, config: Config, train: pd.DataFrame, report: dict[str, Any]) -> TabularPreprocessor:
        if self.schema is None:
            raise RuntimeError("TabularKind.fit needs the schema that clean infers; clean runs first")
        data = config.data
        if data.preprocess.scaling == "auto":  # resolved here and saved so: the run never depends on it again
            data.preprocess.scaling = "quantile" if tabular_family(config.model) == "tabm" else "standard"
        pre = TabularPreprocessor.for_config(data.preprocess, data.clean).fit(train, self.schema)
        report.update(pre.feature_report())
        release_memory()
        return pre

    def labels(self, part: pd.DataFrame, target: str) -> pd.Series:
        return shared_labels(part[target])

    def inputs(self, pre: TabularPreprocessor, part: pd.DataFrame, source: str) -> tuple[torch.Tensor, ...]:
        """The part's tensors. A table of ``COMPACT_ROWS`` rows or more is compacted in place around them (its
        frame is what ``PreparedData.frames`` keeps for the baselines and the report): text categories and labels
        become pandas categories (a small integer code per row; encoded alike) before, decimals float32 (the
        precision of the network's input) after. Smaller tables are kept as read."""
        self._compact(part, text=True)
        release_memory()  # what encoding the labels freed, before the largest arrays of all are made
        tensors = pre.transform(part, source=source)
        self._compact(part, text=False)
        release_memory()
        return tensors

    def _compact(self, part: pd.DataFrame, *, text: bool) -> None:
        if not self.compact or self.schema is None:
            return
        schema = self.schema
        coded = [c for c, kind in schema.kinds.items() if kind in ("categorical", "boolean")]
        coded += [schema.target] if schema.task == "classification" else []
        for column in part.columns:
            values = part[column]
            if text and column in coded and isinstance(values.dtype, pd.StringDtype):
                part[column] = values.astype("category")
            elif not text and values.dtype == np.float64 and column != schema.target:
                part[column] = values.astype(np.float32)

    def finish_report(
        self, config: Config, report: dict[str, Any], pre: TabularPreprocessor, tensors: dict, frames: dict
    ) -> None:
        # a class too rare to reach validation or test is never scored
        if report["task"] == "classification" and (unscored := unscored_classes(frames, report["target"])):
            report["classes_not_in_validation_or_test"] = unscored
        release_memory()

    def spec(self, config: Config, pre: TabularPreprocessor, tensors: dict, report: dict[str, Any]) -> DataSpec:
        classes = pre.classes
        return DataSpec(
            task=report["task"],
            n_features=pre.n_features,
            n_outputs=len(classes) if report["task"] == "classification" else 1,
            cardinalities=pre.cardinalities,
            class_names=classes,
            n_train=len(tensors["train"]),
        )

    def prepare(
        self, config: Config, frame: pd.DataFrame | None = None, *, source: Preprocessor | None = None
    ) -> PreparedData:
        prepared = super().prepare(config, frame, source=source)
        prepared.schema = self.schema
        return prepared
