"""Sequence classification and regression: one label per sequence of feature vectors.

read (.npz or a long table, see ``sequence_io``) → drop unlabelled sequences → split (stratified for
classification) → fit on the training sequences: the length every sequence is padded or cut to
(``data.sequence.max_length``, else the longest training sequence; a longer one keeps its last steps)
and per-feature scaling from their real, unpadded steps → inputs ``(x, lengths)``. Padding is zeros at
the end, and each sequence's length travels with it so that the recurrent models pack the padding away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepfit.config import Config, SequenceConfig
from deepfit.data.batches import TensorData
from deepfit.data.clean import target_summary
from deepfit.data.kind import DataKind, Preprocessor
from deepfit.data.schema import infer_task
from deepfit.data.sequence.io import Sequences, looks_like_sequences, read_long, read_npz, read_sequences
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.data.tabular.preprocess import column_scaling
from deepfit.data.target import fit_target
from deepfit.errors import DataError


class SequencePreprocessor(Preprocessor):
    """Fit length, scaling and label coding on the training sequences; turn raw sequences into tensors."""

    kind = "sequence"

    def __init__(self, config: SequenceConfig | None = None, scaling: str = "standard", target_scaling: bool = True):
        super().__init__()
        self.config, self.scaling, self.target_scaling = config or SequenceConfig(), scaling, target_scaling

    def fit(self, seqs: Sequences, *, target: str, task: str) -> SequencePreprocessor:
        seq_len = self.config.max_length or int(seqs.lengths.max())
        real = seqs.x[np.arange(seqs.x.shape[1])[None, :] < seqs.lengths[:, None]]  # (real steps, features)
        offset, scale = column_scaling(real, self.scaling)
        self.state = {
            "task": task,
            "target": target,
            "features": list(seqs.features or []),
            "id_column": self.config.id_column,
            "order_column": self.config.order_column,
            "seq_len": seq_len,
            "truncated_train_sequences": int((seqs.lengths > seq_len).sum()),
            "offset": offset.tolist(),
            "scale": scale.tolist(),
        }
        self.state.update(fit_target(seqs.labels(), task, scaling=self.target_scaling))
        return self

    # the source's step scaling (and length) with this data's columns and label coding
    own_keys = ("id_column", "order_column", "truncated_train_sequences")

    def reuse_problem(self, source: Preprocessor) -> str | None:
        mine, theirs = self.state["features"], source.state["features"]
        if mine == theirs and len(self.state["offset"]) == len(source.state["offset"]):
            return None
        return f"the features differ (the source run's: {', '.join(map(str, theirs[:8])) or len(theirs)})"

    def sequences(self, raw: Any, source: str = "the data", labels: bool = False) -> Sequences:
        """Raw input as Sequences: Sequences, an array (N, steps[, features]) or a long table."""
        if isinstance(raw, Sequences):
            return raw
        if isinstance(raw, np.ndarray):
            x = raw.astype(np.float64)
            x = x[..., None] if x.ndim == 2 else x
            return Sequences(x, np.full(len(x), x.shape[1]))
        if isinstance(raw, pd.DataFrame):
            config = SequenceConfig(id_column=self.state["id_column"], order_column=self.state["order_column"])
            target = self.state["target"] if labels else None
            if labels and target not in raw.columns:
                raise DataError(f"the target column '{target}' is not in {source}; evaluation needs labels")
            return read_long(raw, config, self.state["features"], target, source)
        raise DataError(f"{source}: sequences come as an .npz, a long table or an array (samples, steps, features)")

    def transform(self, raw: Any, source: str = "the data") -> tuple[torch.Tensor, ...]:
        """``(x, lengths)``: x (N, seq_len, features) scaled, zeros after each sequence's length."""
        seqs = self.sequences(raw, source)
        n_features, seq_len = len(self.state["offset"]), self.state["seq_len"]
        if seqs.x.shape[2] != n_features:
            raise DataError(f"{source}: sequences have {seqs.x.shape[2]} features; the model reads {n_features}")
        lengths = np.minimum(seqs.lengths, seq_len)
        first = seqs.lengths - lengths  # a longer sequence keeps its last seq_len steps
        steps = first[:, None] + np.arange(seq_len)[None, :]
        x = np.take_along_axis(seqs.x, np.minimum(steps, seqs.x.shape[1] - 1)[..., None], axis=1)
        x = (x - np.asarray(self.state["offset"])) / np.asarray(self.state["scale"])
        x[np.arange(seq_len)[None, :] >= lengths[:, None]] = 0.0
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(lengths.astype(np.int64))

    def labelled(self, raw: Any, source: str = "the data") -> tuple[TensorData, int]:
        """Inputs and labels for ``deepfit evaluate RUN --data``: an .npz with ``y`` or a long table with labels."""
        seqs = self.sequences(raw, source, labels=True)
        if seqs.y is None:
            raise DataError(f"{source} has no labels ('y' in an .npz); evaluation needs them")
        seqs = seqs.take(np.flatnonzero(pd.notna(seqs.y)))
        target, known = self.transform_target(seqs.y)
        if not known.any():
            known_classes = ", ".join(map(str, self.classes))
            raise DataError(f"no sequence of {source} has a class the model knows ({known_classes})")
        return TensorData(self.transform(seqs.take(np.flatnonzero(known)), source), target), int((~known).sum())

    def prediction_columns(self, raw: Any) -> pd.DataFrame:
        """The sequence ids of a long table, first; nothing for arrays."""
        if isinstance(raw, pd.DataFrame) and self.state["id_column"]:
            return pd.DataFrame({self.state["id_column"]: self.sequences(raw, "the input").ids})
        return super().prediction_columns(raw)

    def read_input(self, source: str | Path | pd.DataFrame) -> Any:
        if isinstance(source, str | Path) and str(source).lower().endswith(".npz"):
            return read_npz(Path(source))
        return read_source(source)

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(), "scaling": self.scaling, "target_scaling": self.target_scaling}

    @classmethod
    def from_settings(cls, raw: dict[str, Any]) -> SequencePreprocessor:
        return cls(SequenceConfig(**raw["config"]), raw["scaling"], raw["target_scaling"])


# ---------------------------------------------------------------- the data path
class SequenceKind(DataKind[SequencePreprocessor]):
    """Parts are ``Sequences``; the split is made on a table of their labels."""

    name = "sequence"
    preprocessor = SequencePreprocessor
    section = "sequence"

    def detect(self, config: Config) -> bool:
        return looks_like_sequences(config)

    def read(self, config: Config, frame: pd.DataFrame | None) -> tuple[Sequences, str, int]:
        seqs, target, rows = read_sequences(config, config.data.source, frame)
        seqs.ids = seqs.ids if seqs.ids is not None else list(range(len(seqs)))  # an .npz: its row numbers
        return seqs, target, rows

    def clean(self, config: Config, raw: tuple[Sequences, str, int]) -> tuple[Sequences, dict[str, Any]]:
        seqs, target, rows = raw
        labelled = pd.notna(seqs.y)
        seqs = seqs.take(np.flatnonzero(labelled))
        labels = pd.Series(list(seqs.labels())).infer_objects()
        task = config.data.task if config.data.task != "auto" else infer_task(labels)
        if task == "regression" and pd.to_numeric(labels, errors="coerce").isna().any():
            raise DataError(
                f"regression target '{target}' holds non-numeric labels", hint="set data.task: classification"
            )
        seqs.y = labels.to_numpy()
        unlabelled = int((~labelled).sum())
        report = {
            "rows_in": len(seqs) + unlabelled,
            "rows_out": len(seqs),
            "task": task,
            "target": target,
            "missing_target_rows": unlabelled,
            "target_summary": target_summary(pd.Series(seqs.y), task),
            "rows_read": rows,
        }
        self.all, self.target = seqs, target
        return seqs, report

    def split(self, config: Config, cleaned: Sequences, report: dict[str, Any]) -> dict[str, Sequences]:
        parts = super().split(config, pd.DataFrame({"label": cleaned.y}), {**report, "target": "label"})
        return {name: cleaned.take(part.index.to_numpy()) for name, part in parts.items()}

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> Sequences:
        seqs = read_sequences(config, source)[0]
        return seqs.take(np.flatnonzero(pd.notna(seqs.y)))

    def fit(self, config: Config, train: Sequences, report: dict[str, Any]) -> SequencePreprocessor:
        data = config.data
        pre = SequencePreprocessor(data.sequence, data.preprocess.scaling, data.preprocess.target_scaling)
        return pre.fit(train, target=report["target"], task=report["task"])

    def labels(self, part: Sequences, target: str) -> np.ndarray:
        return part.labels()

    def take(self, part: Sequences, mask: np.ndarray) -> Sequences:
        return part.take(np.flatnonzero(mask))

    def frame(self, part: Sequences) -> pd.DataFrame:
        return pd.DataFrame({"id": part.ids, "length": part.lengths, self.target: part.y})

    def finish_report(
        self, config: Config, report: dict, pre: SequencePreprocessor, tensors: dict, frames: dict
    ) -> None:
        facts, notes = _facts(self.all, report.pop("rows_read"), pre)
        report["sequence"] = facts
        report["notes"] = notes

    def spec(self, config: Config, pre: SequencePreprocessor, tensors: dict, report: dict[str, Any]) -> DataSpec:
        task, n_features = report["task"], self.all.x.shape[2]
        return DataSpec(
            task=task,
            n_features=n_features,
            n_outputs=len(pre.classes) if task == "classification" else 1,
            class_names=pre.classes,
            kind="sequence",
            input_shape=[pre.state["seq_len"], n_features],
            n_train=len(tensors["train"]),
            extra={"features": pre.state["features"]},
        )


def _facts(seqs: Sequences, rows: int, pre: SequencePreprocessor) -> tuple[dict[str, Any], list[str]]:
    """The report's ``sequence`` section and its notes."""
    lengths, s = seqs.lengths, pre.state
    facts = {
        "sequences": len(seqs),
        "features": s["features"],
        "seq_len": s["seq_len"],
        "lengths": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
        "truncated_train_sequences": s["truncated_train_sequences"],
        "missing_values_filled": seqs.missing,
    }
    line = (
        f"{len(seqs)} sequences of {facts['lengths']['min']}..{facts['lengths']['max']} steps "
        f"(median {facts['lengths']['median']:g}) x {len(s['features'])} features, from {rows} rows; "
        f"padded to {s['seq_len']} steps"
    )
    if s["truncated_train_sequences"]:
        line += f" ({s['truncated_train_sequences']} training sequences cut to their last {s['seq_len']} steps)"
    notes = [line + "; per-feature scaling fitted on the training sequences' real steps"]
    if seqs.missing:
        notes.append(f"{seqs.missing} missing feature values carried forward from the step before")
    return facts, notes


__all__ = ["SequenceKind", "SequencePreprocessor", "Sequences", "looks_like_sequences"]
