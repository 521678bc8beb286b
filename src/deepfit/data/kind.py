"""The contract of a data kind: the steps it supplies, and the preprocessor a saved run loads.

A kind (tables, images, text, sequences, series, or one of your own) is a :class:`DataKind` subclass,
registered by name in ``data/registry.py`` (``deepfit.register_data_kind`` for your own). ``prepare`` runs
one skeleton for every kind::

    read → clean (report) → split (+ data.validation_source / test_source) → fit the preprocessor on train
         → per split: encode the target, drop rows of classes unseen in train (counted) → tensors
         → the kind's report section → DataSpec

A kind supplies only its own steps (``read``, ``clean``, ``fit``, ``spec``; the others have defaults for
data held in a DataFrame). A kind whose rows are not a DataFrame says what a part is through ``labels``,
``take``, ``size``, ``inputs`` and ``frame`` (images: records and pixels; forecasts: windows of each series).
Its :class:`Preprocessor` is what a run saves (JSON with a ``kind`` key) and what
``Predictor`` uses on raw input: every member it needs has a default here, so nothing is probed for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

import numpy as np
import pandas as pd

from deepfit.data.batches import Augment, TensorData
from deepfit.data.target import TargetEncoder
from deepfit.errors import DataError

if TYPE_CHECKING:
    import torch

    from deepfit.config import Config
    from deepfit.data.schema import Schema
    from deepfit.data.spec import DataSpec


@dataclass
class PreparedData:
    tensors: dict[str, TensorData]  # train, and validation / test when not empty
    frames: dict[str, pd.DataFrame]  # the raw rows of each split, as read
    spec: DataSpec
    preprocessor: Any  # the kind's Preprocessor: fit on train, JSON state, tensors out
    schema: Schema | None
    report: dict[str, Any]


class Preprocessor(ABC):
    """Fitted on the training split; raw input → tensors; saved as JSON ``{"kind", <settings>, "state"}``.

    A subclass sets ``kind``, writes ``fit(...)`` (its arguments are its kind's business) and ``transform``;
    it keeps the target encoder's keys (``task``, ``classes`` or ``target_mean``/``target_std``) in
    ``state``. It overrides ``settings``/``from_settings`` when it saves constructor arguments, and the
    hooks below when its raw input is not a table.
    """

    kind: ClassVar[str]
    # None, or a method (outputs, target, inputs=None) -> dict replacing the task's evaluation report
    evaluation_report: Any = None

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    @property
    def output_names(self) -> list[str] | None:
        """None, or the names of several regression outputs (a forecast's horizon steps)."""
        return None

    # ------------------------------------------------------------ what every kind writes
    @abstractmethod
    def transform(self, raw: Any, source: str = "the data") -> tuple[torch.Tensor, ...]:
        """Model inputs of raw input (the form ``read_input`` returns, or the kind's in-memory form)."""

    # ------------------------------------------------------------ the target (one encoder for all kinds)
    @property
    def task(self) -> str:
        return self.state["task"]

    @property
    def target(self) -> str:
        return self.state["target"]

    @property
    def classes(self) -> list[Any]:
        return TargetEncoder(self.state).classes

    def transform_target(self, target: Any) -> tuple[torch.Tensor, np.ndarray]:
        """Target tensor and a mask of the rows it covers (rows of classes unseen in train are left out)."""
        return TargetEncoder(self.state).encode(target)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        return TargetEncoder(self.state).decode(y)

    # ------------------------------------------------------------ raw input (deepfit predict / evaluate)
    def read_input(self, source: str | Path | pd.DataFrame) -> Any:
        """Raw input from a path (or a DataFrame as it is): a table, unless the kind reads its own files."""
        from deepfit.data.sources import read_source

        return read_source(source)

    def labelled(self, raw: Any, source: str = "the data") -> tuple[TensorData, int]:
        """Inputs and targets of the labelled rows of raw input, and how many rows had an unknown class."""
        target = self.target
        if not isinstance(raw, pd.DataFrame) or target not in raw.columns:
            raise DataError(f"the target column '{target}' is not in {source}; evaluation needs labels")
        raw = raw[raw[target].notna()]
        if len(raw) == 0:
            raise DataError(f"{source} holds no labelled rows")
        y, known = self.transform_target(raw[target])
        if not known.any():
            raise DataError(f"no row of {source} has a class the model knows ({', '.join(map(str, self.classes))})")
        return TensorData(self.transform(raw[known], source=source), y), int((~known).sum())

    def prediction_columns(self, raw: Any) -> pd.DataFrame:
        """Columns put before the predictions (an image's path, a sequence's id); none by default."""
        index = raw.index if isinstance(raw, pd.DataFrame) else pd.RangeIndex(len(raw))
        return pd.DataFrame(index=index)

    # ------------------------------------------------------------ reuse (model.init_from, docs/transfer.md)
    # state keys that stay this data's when another run's input preprocessing replaces this one's (the target
    # encoder's keys always do: new classes, a new head)
    own_keys: ClassVar[tuple[str, ...]] = ()

    def reuse_problem(self, source: Preprocessor) -> str | None:
        """Why ``source`` (the same kind, fitted on another run's data) cannot encode this data's inputs; None:
        it can. A kind that does not say is fitted anew."""
        return f"{self.kind} preprocessing has no reuse rule"

    def reuse(self, source: Preprocessor) -> Preprocessor:
        """``source``'s input preprocessing (its settings and fitted state) with this one's target encoding."""
        raw = source.to_dict()
        keep = {k: self.state[k] for k in (*TARGET_KEYS, *self.own_keys) if k in self.state}
        raw["state"] = {**{k: v for k, v in source.state.items() if k not in TARGET_KEYS}, **keep}
        return type(self).from_dict(raw)

    # ------------------------------------------------------------ save / load
    def settings(self) -> dict[str, Any]:
        """Constructor arguments saved beside the state (plain JSON values)."""
        return {}

    @classmethod
    def from_settings(cls, raw: dict[str, Any]) -> Preprocessor:
        """A preprocessor made from what ``settings`` saved (``raw`` is the whole saved dict)."""
        return cls()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.settings(), "state": self.state}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Preprocessor:
        pre = cls.from_settings(raw)
        pre.state = dict(raw["state"])
        return pre


P = TypeVar("P", bound=Preprocessor)
TARGET_KEYS = ("task", "target", "classes", "target_mean", "target_std")


def reuse_preprocessing(pre: P, source: Preprocessor | None, report: dict[str, Any]) -> P:
    """``pre`` with ``source``'s input preprocessing where it can encode this data (``model.init_from``: a token
    id, a normalised pixel, a scaled column must mean what they meant to the source's weights); what was done
    is ``report["init_from"]``, a line the run prints."""
    if source is None:
        return pre
    if source.kind != pre.kind:
        problem: str | None = f"the source run's data is {source.kind}, this is {pre.kind}"
    else:
        problem = pre.reuse_problem(source)
    if problem:
        line = f"preprocessing fitted on this data, not the source run's: {problem}"
        report["init_from"] = {"preprocessing": "fitted", "line": line}
        return pre
    report["init_from"] = {
        "preprocessing": "reused",
        "line": f"{pre.kind} preprocessing reused from the source run (the target encoding fitted on this data)",
    }
    return cast(P, pre.reuse(source))


class DataKind(ABC, Generic[P]):
    """One kind of data: the steps of the skeleton it supplies (an instance serves one ``prepare``).

    ``part`` below is the kind's form of some rows (a DataFrame by default; images are records and
    pixels, sequences a ``Sequences``); ``report`` is the data report, holding ``target`` and ``task``
    once ``clean`` has run. ``P`` is the kind's Preprocessor class: what ``fit`` returns and the later
    steps take (``class ImageKind(DataKind[ImagePreprocessor])``).
    """

    name: ClassVar[str]
    preprocessor: ClassVar[type[Preprocessor]]
    section: ClassVar[str]  # the data report's key holding what this kind alone reports

    def detect(self, config: Config) -> bool:
        """Whether ``data.kind: auto`` means this kind (a peek at the source; never a full read)."""
        return False

    @abstractmethod
    def read(self, config: Config, frame: pd.DataFrame | None) -> Any:
        """The whole data of ``data.source`` (or ``frame``), as read."""

    @abstractmethod
    def clean(self, config: Config, raw: Any) -> tuple[Any, dict[str, Any]]:
        """Row decisions on the whole data (before the split) and the report: ``target``, ``task``, counts."""

    @abstractmethod
    def fit(self, config: Config, train: Any, report: dict[str, Any]) -> P:
        """The kind's preprocessor fitted on the training part only."""

    @abstractmethod
    def spec(self, config: Config, pre: P, tensors: dict[str, TensorData], report: dict[str, Any]) -> DataSpec:
        """What the model builder needs."""

    # ------------------------------------------------------------ steps with defaults (DataFrame parts)
    def split(self, config: Config, cleaned: Any, report: dict[str, Any]) -> dict[str, Any]:
        from deepfit.data.split import split_frame

        external = tuple(n for n in ("validation", "test") if getattr(config.data, f"{n}_source"))
        seed, target, task = config.train.seed, report["target"], report["task"]
        return split_frame(cleaned, config.data.split, target=target, task=task, seed=seed, external=external)

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> Any:
        """``data.<name>_source`` read as a part (labelled rows only)."""
        from deepfit.data.sources import read_source

        extra = read_source(source, config.base_dir)
        if report["target"] not in extra.columns:
            raise DataError(f"data.{name}_source: the target column '{report['target']}' is not in {source}")
        return extra[extra[report["target"]].notna()]

    def labels(self, part: Any, target: str) -> Any:
        return part[target]

    def take(self, part: Any, mask: np.ndarray) -> Any:
        return part[mask]

    def size(self, part: Any) -> int:
        return len(part)

    def inputs(self, pre: P, part: Any, source: str) -> tuple[torch.Tensor, ...]:
        return pre.transform(part, source=source)

    def augment(self, config: Config, pre: P, split: str) -> Augment | None:
        """Batch-wise augmentation of a split (the training loop applies it to train only)."""
        return None

    def frame(self, part: Any) -> pd.DataFrame:
        """The rows of a part as a table (``PreparedData.frames``: predictions_test.csv, baselines)."""
        return part

    def finish_report(
        self,
        config: Config,
        report: dict[str, Any],
        pre: P,
        tensors: dict[str, TensorData],
        frames: dict[str, pd.DataFrame],
    ) -> None:
        """Add this kind's section (``report[self.section]``) and notes, once the tensors are made."""
        return None

    # ------------------------------------------------------------ the skeleton
    def prepare(
        self, config: Config, frame: pd.DataFrame | None = None, *, source: Preprocessor | None = None
    ) -> PreparedData:
        """``source``: a fitted preprocessor (model.init_from's run) whose input part is reused when it can be."""
        cleaned, report = self.clean(config, self.read(config, frame))
        target = report["target"]
        parts = self.split(config, cleaned, report)
        for name in ("validation", "test"):
            if path := getattr(config.data, f"{name}_source"):
                parts[name] = self.read_external(config, name, path, report)
        pre = reuse_preprocessing(self.fit(config, parts["train"], report), source, report)
        tensors, frames, unseen = {}, {}, {}
        for name, part in parts.items():
            if self.size(part):
                y, known = pre.transform_target(self.labels(part, target))
                if not known.all():  # a class absent from train cannot be learned or scored
                    unseen[name] = int((~known).sum())
                    part = self.take(part, known)
                inputs = self.inputs(pre, part, f"the {name} data")
                tensors[name] = TensorData(inputs, y, self.augment(config, pre, name))
            frames[name] = self.frame(part)
        report["splits"] = {name: len(part) for name, part in frames.items()}
        if unseen:
            report["rows_with_classes_unseen_in_train"] = unseen
        self.finish_report(config, report, pre, tensors, frames)
        spec = self.spec(config, pre, tensors, report)
        return PreparedData(tensors, frames, spec, pre, None, report)
