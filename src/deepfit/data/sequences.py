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
from deepfit.data.clean import _target_summary
from deepfit.data.pipeline import PreparedData
from deepfit.data.preprocess import column_scaling
from deepfit.data.schema import infer_task
from deepfit.data.sequence_io import Sequences, looks_like_sequences, read_long, read_npz, read_sequences
from deepfit.data.sources import read_source
from deepfit.data.spec import DataSpec
from deepfit.data.split import split_frame
from deepfit.errors import DataError


class SequencePreprocessor:
    """Fit length, scaling and label coding on the training sequences; turn raw sequences into tensors."""

    def __init__(self, config: SequenceConfig | None = None, scaling: str = "standard", target_scaling: bool = True):
        self.config, self.scaling, self.target_scaling = config or SequenceConfig(), scaling, target_scaling
        self.state: dict[str, Any] = {}

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
        if task == "classification":
            classes = sorted(pd.unique(pd.Series(seqs.y)), key=lambda v: (isinstance(v, str), v))
            self.state["classes"] = [v.item() if hasattr(v, "item") else v for v in classes]
        else:
            y = seqs.y.astype(np.float64)
            mean, std = (float(y.mean()), float(y.std()) or 1.0) if self.target_scaling else (0.0, 1.0)
            self.state["target_mean"], self.state["target_std"] = mean, std
        return self

    @property
    def classes(self) -> list[Any]:
        return self.state.get("classes", [])

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

    def transform_target(self, target: Any) -> tuple[torch.Tensor, np.ndarray]:
        """Target tensor and a mask of the sequences it covers (classes unseen in training are left out)."""
        values = pd.Series(list(target))
        if self.state["task"] == "classification":
            index = {str(c): i for i, c in enumerate(self.classes)}
            codes = values.map(lambda v: index.get(str(v.item() if hasattr(v, "item") else v), -1)).to_numpy()
            known = codes >= 0
            return torch.as_tensor(codes[known], dtype=torch.int64), known
        y = (pd.to_numeric(values, errors="coerce").to_numpy(dtype=float) - self.state["target_mean"]) / self.state[
            "target_std"
        ]
        return torch.as_tensor(y, dtype=torch.float32)[:, None], np.ones(len(y), dtype=bool)

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        return y * self.state.get("target_std", 1.0) + self.state.get("target_mean", 0.0)

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
        return pd.DataFrame()

    def read_input(self, source: str | Path | pd.DataFrame) -> Any:
        if isinstance(source, str | Path) and str(source).lower().endswith(".npz"):
            return read_npz(Path(source))
        return read_source(source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "sequence",
            "config": self.config.model_dump(),
            "scaling": self.scaling,
            "target_scaling": self.target_scaling,
            "state": self.state,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SequencePreprocessor:
        pre = cls(SequenceConfig(**raw["config"]), raw["scaling"], raw["target_scaling"])
        pre.state = raw["state"]
        return pre


# ---------------------------------------------------------------- the data path
def prepare_sequences(config: Config, frame: pd.DataFrame | None = None) -> PreparedData:
    data = config.data
    seqs, target, rows = read_sequences(config, data.source, frame)
    seqs.ids = seqs.ids if seqs.ids is not None else list(range(len(seqs)))  # an .npz: its row numbers
    labelled = pd.notna(seqs.y)
    seqs = seqs.take(np.flatnonzero(labelled))
    labels = pd.Series(list(seqs.y)).infer_objects()
    task = data.task if data.task != "auto" else infer_task(labels)
    if task == "regression" and pd.to_numeric(labels, errors="coerce").isna().any():
        raise DataError(f"regression target '{target}' holds non-numeric labels", hint="set data.task: classification")
    seqs.y = labels.to_numpy()
    external = {
        name: read_sequences(config, source)[0]
        for name, source in (("validation", data.validation_source), ("test", data.test_source))
        if source
    }
    table = pd.DataFrame({"label": seqs.y})
    seed = config.train.seed
    parts = split_frame(table, data.split, target="label", task=task, seed=seed, external=tuple(external))
    splits = {name: seqs.take(part.index.to_numpy()) for name, part in parts.items()}
    splits.update({name: s.take(np.flatnonzero(pd.notna(s.y))) for name, s in external.items()})

    pre = SequencePreprocessor(data.sequence, data.preprocess.scaling, data.preprocess.target_scaling)
    pre.fit(splits["train"], target=target, task=task)
    tensors, frames, unseen = {}, {}, {}
    for name, part in splits.items():
        if len(part) == 0:
            continue
        y, known = pre.transform_target(part.y)
        if not known.all():  # a class absent from train cannot be learned or scored
            unseen[name] = int((~known).sum())
            part = splits[name] = part.take(np.flatnonzero(known))
        tensors[name] = TensorData(pre.transform(part, f"the {name} data"), y)
        frames[name] = pd.DataFrame({"id": part.ids, "length": part.lengths, target: part.y})
    report = _report(seqs, splits, rows, int((~labelled).sum()), target, task, pre)
    if unseen:
        report["rows_with_classes_unseen_in_train"] = unseen
    n_features = seqs.x.shape[2]
    spec = DataSpec(
        task=task,
        n_features=n_features,
        n_outputs=len(pre.classes) if task == "classification" else 1,
        class_names=pre.classes,
        kind="sequence",
        input_shape=[pre.state["seq_len"], n_features],
        n_train=len(tensors["train"]),
        extra={"features": pre.state["features"]},
    )
    return PreparedData(tensors, frames, spec, pre, None, report)


def _report(
    seqs: Sequences,
    splits: dict[str, Sequences],
    rows: int,
    unlabelled: int,
    target: str,
    task: str,
    pre: SequencePreprocessor,
) -> dict[str, Any]:
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
    return {
        "rows_in": len(seqs) + unlabelled,
        "rows_out": len(seqs),
        "task": task,
        "target": target,
        "missing_target_rows": unlabelled,
        "splits": {name: len(part) for name, part in splits.items()},
        "target_summary": _target_summary(pd.Series(seqs.y), task),
        "sequence": facts,
        "notes": notes,
    }


__all__ = ["SequencePreprocessor", "Sequences", "looks_like_sequences", "prepare_sequences"]
