"""A toy data kind: labelled point clouds in an .npz (``points`` (N, P, 3), ``label`` (N,)).

Everything deepfit needs is here, outside ``src/deepfit``: detection, reading, cleaning, fitting on train,
the report section and the saved preprocessor. Each cloud becomes 12 order-free features (the mean,
standard deviation, minimum and maximum of each coordinate), standardised with the training statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepfit.config import Config
from deepfit.data.clean import target_summary
from deepfit.data.kind import DataKind, Preprocessor
from deepfit.data.spec import DataSpec
from deepfit.data.target import fit_target
from deepfit.errors import DataError


@dataclass
class Clouds:
    points: np.ndarray  # (N, P, 3)
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)


def read_clouds(path: str | Path) -> Clouds:
    with np.load(path, allow_pickle=False) as arrays:
        if "points" not in arrays.files:
            raise DataError(f"{path}: expected an array named 'points' (clouds, points, 3)")
        return Clouds(arrays["points"].astype(np.float64), arrays["label"] if "label" in arrays.files else None)


def features(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.mean(1), points.std(1), points.min(1), points.max(1)], axis=1)


class PointCloudPreprocessor(Preprocessor):
    kind = "pointcloud"

    def fit(self, points: np.ndarray, labels: Any, task: str) -> PointCloudPreprocessor:
        x = features(points)
        self.state = {"task": task, "target": "label", "mean": x.mean(0).tolist(), "std": x.std(0).tolist()}
        self.state.update(fit_target(labels, task))
        return self

    def transform(self, raw: Any, source: str = "the data") -> tuple[torch.Tensor, ...]:
        points = raw.points if isinstance(raw, Clouds) else np.asarray(raw, dtype=np.float64)
        if points.ndim != 3 or points.shape[2] != 3:
            raise DataError(f"{source}: point clouds are (clouds, points, 3); got {points.shape}")
        std = np.where(np.asarray(self.state["std"]) > 1e-12, self.state["std"], 1.0)
        x = (features(points) - np.asarray(self.state["mean"])) / std
        return (torch.as_tensor(x, dtype=torch.float32),)

    def read_input(self, source: str | Path | pd.DataFrame) -> Clouds:
        return read_clouds(source)

    def labelled(self, raw: Any, source: str = "the data") -> tuple[Any, int]:
        from deepfit.data.batches import TensorData

        if not isinstance(raw, Clouds) or raw.labels is None:
            raise DataError(f"{source} has no 'label' array; evaluation needs labels")
        y, known = self.transform_target(raw.labels)
        return TensorData(self.transform(raw.points[known], source), y), int((~known).sum())


class PointCloudKind(DataKind):
    """Parts are row numbers into the clouds (a table with the label), so the default split applies."""

    name = "pointcloud"
    preprocessor = PointCloudPreprocessor
    section = "pointcloud"

    def detect(self, config: Config) -> bool:
        source = config.data.source
        if not source or not source.endswith(".npz"):
            return False
        with np.load(config.resolve_path(source)) as arrays:
            return "points" in arrays.files

    def read(self, config: Config, frame: pd.DataFrame | None) -> Clouds:
        self.clouds = read_clouds(config.resolve_path(config.data.source))
        return self.clouds

    def clean(self, config: Config, raw: Clouds) -> tuple[pd.DataFrame, dict[str, Any]]:
        table = pd.DataFrame({"label": raw.labels, "row": np.arange(len(raw))})
        report = {"rows_in": len(table), "rows_out": len(table), "target": "label", "task": "classification"}
        report["target_summary"] = target_summary(table["label"], "classification")
        return table, report

    def read_external(self, config: Config, name: str, source: str, report: dict[str, Any]) -> pd.DataFrame:
        extra = read_clouds(config.resolve_path(source))
        start = len(self.clouds)
        self.clouds = Clouds(np.concatenate([self.clouds.points, extra.points]))
        return pd.DataFrame({"label": extra.labels, "row": start + np.arange(len(extra))})

    def fit(self, config: Config, train: pd.DataFrame, report: dict[str, Any]) -> PointCloudPreprocessor:
        return PointCloudPreprocessor().fit(self.clouds.points[train["row"]], train["label"], report["task"])

    def inputs(self, pre: Preprocessor, part: pd.DataFrame, source: str) -> tuple[torch.Tensor, ...]:
        return pre.transform(self.clouds.points[part["row"].to_numpy()], source)

    def finish_report(self, config: Config, report: dict, pre: Preprocessor, tensors: dict, frames: dict) -> None:
        report["pointcloud"] = {"clouds": len(self.clouds), "points_per_cloud": int(self.clouds.points.shape[1])}

    def spec(self, config: Config, pre: Preprocessor, tensors: dict, report: dict[str, Any]) -> DataSpec:
        return DataSpec(
            task="classification",
            n_features=12,
            n_outputs=len(pre.classes),
            class_names=pre.classes,
            kind="pointcloud",
            input_shape=[12],
            n_train=len(tensors["train"]),
        )


def write_clouds(path: Path, n: int = 60, seed: int = 0, labels: tuple[str, ...] = ("ball", "rod")) -> Path:
    """Balls (points around the origin) and rods (points along x), 16 points each."""
    rng = np.random.default_rng(seed)
    label = np.array([labels[i % len(labels)] for i in range(n)])
    points = rng.normal(0.0, 1.0, (n, 16, 3))
    points[label == labels[-1], :, 1:] *= 0.1  # the last shape is flat: a rod
    np.savez(path, points=points, label=label)
    return path
