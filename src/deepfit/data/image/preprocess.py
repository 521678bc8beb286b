"""Image preprocessing fitted on the training split, saved with the model as plain JSON.

Every image is decoded to the size and mode fixed at training time, then normalised per channel with
the mean and standard deviation of the training images (pixels scaled to 0..1 first). Raw input for
prediction is a folder of images, a table (CSV, Parquet) with a path column, a DataFrame with that
column, a list of paths, or a uint8 array of images (N x H x W, or N x H x W x C as Pillow and NumPy
lay them out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepfit.data.batches import TensorData
from deepfit.data.image.decode import convert_array, image_files, is_image_file, load_pixels, resolve_path_column
from deepfit.data.kind import Preprocessor
from deepfit.data.target import fit_target
from deepfit.errors import DataError


def channel_counts(pixels: np.ndarray) -> np.ndarray:
    """How many pixels of each channel hold each value 0..255: (C, 256) int64, for uint8 N x C x H x W."""
    return np.stack([np.bincount(pixels[:, c].ravel(), minlength=256) for c in range(pixels.shape[1])])


class ImagePreprocessor(Preprocessor):
    """Fit on the training pixels (uint8, N x C x H x W), then turn any raw images into model inputs."""

    kind = "image"

    def __init__(
        self,
        *,
        target: str = "label",
        task: str = "classification",
        size: tuple[int, int] = (32, 32),
        mode: str = "rgb",
        path_column: str = "path",
    ) -> None:
        super().__init__()
        self.state = {
            "task": task,
            "target": target,
            "size": [int(size[0]), int(size[1])],
            "mode": mode,
            "path_column": path_column,
        }

    # ------------------------------------------------------------ fit
    def fit(self, pixels: np.ndarray, target: pd.Series) -> ImagePreprocessor:
        """Per-channel mean and std of the training pixels, from a histogram (exact, no float copy)."""
        return self.fitted(channel_counts(pixels), fit_target(target, self.task))

    def fitted(self, counts: np.ndarray, target_state: dict[str, Any]) -> ImagePreprocessor:
        """The state from the training pixels' ``channel_counts`` (summed over batches when streamed: the same
        numbers as over all the pixels at once) and the target encoder's state."""
        values = np.arange(256, dtype=np.float64) / 255.0
        mean, std = [], []
        for channel in counts.astype(np.float64):
            n = max(channel.sum(), 1.0)
            mu = float((channel * values).sum() / n)
            var = float((channel * values**2).sum() / n - mu**2)
            mean.append(mu)
            std.append(var**0.5 if var > 1e-8 else 1.0)  # a constant channel is only centred
        self.state["mean"], self.state["std"] = mean, std
        self.state.update(target_state)
        return self

    # ------------------------------------------------------------ reuse (model.init_from)
    own_keys = ("path_column",)

    def reuse_problem(self, source: Preprocessor) -> str | None:
        """The source's normalisation fits images of its size and mode only."""
        mine, theirs = (self.state["size"], self.state["mode"]), (source.state["size"], source.state["mode"])
        if mine == theirs:
            return None
        (h, w), mode = theirs
        return (
            f"the source run's images are {h}x{w} {mode}, these are {mine[0][0]}x{mine[0][1]} {mine[1]}; "
            f"set data.image.size: [{h}, {w}] and data.image.mode: {mode} to reuse its normalisation"
        )

    # ------------------------------------------------------------ properties
    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.state["size"])

    @property
    def channels(self) -> int:
        return 3 if self.state["mode"] == "rgb" else 1

    @property
    def path_column(self) -> str:
        return self.state["path_column"]

    # ------------------------------------------------------------ transform
    def normalize(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 N x C x H x W → float32, per-channel standardised with the training statistics."""
        x = torch.as_tensor(pixels).float().div_(255.0)
        mean = torch.tensor(self.state["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(self.state["std"]).view(1, -1, 1, 1)
        return x.sub_(mean).div_(std)

    def pixels(self, raw: Any, source: str = "the input") -> np.ndarray:
        """uint8 pixels at the trained size and mode from any raw input (see the module's docstring)."""
        if isinstance(raw, pd.DataFrame):
            if self.path_column not in raw.columns:
                raise DataError(
                    f"{source} has no '{self.path_column}' column of image paths",
                    hint="pass a folder of images, a CSV with that column, or a list of paths",
                )
            raw = raw[self.path_column].astype(str).tolist()
        if isinstance(raw, np.ndarray | torch.Tensor):
            return convert_array(np.asarray(raw), self.size, self.state["mode"], source)
        if isinstance(raw, list | tuple):
            return load_pixels([str(p) for p in raw], self.size, self.state["mode"], source)
        raise DataError(f"{source}: expected image paths or an array of images; got {type(raw).__name__}")

    def transform(self, raw: Any, source: str = "the input") -> tuple[torch.Tensor, ...]:
        return (self.normalize(self.pixels(raw, source)),)

    # ------------------------------------------------------------ raw input (deepfit predict / evaluate)
    def read_input(self, source: str | Path | pd.DataFrame) -> Any:
        """A folder (recursively; a first-level sub-folder's name is the label), one image, or a path table."""
        if isinstance(source, pd.DataFrame):
            return source
        path = Path(source).expanduser()
        target = self.state["target"]
        if path.is_dir():
            files = image_files(path)
            if not files:
                raise DataError(f"{path} holds no images", hint="image files end in .png, .jpg, .jpeg, .bmp, ...")
            labels = [f.relative_to(path).parts[0] if len(f.relative_to(path).parts) > 1 else None for f in files]
            return pd.DataFrame({self.path_column: [str(f) for f in files], target: labels})
        if is_image_file(path):
            return pd.DataFrame({self.path_column: [str(path)]})
        from deepfit.data.sources import read_source

        return resolve_path_column(read_source(path), self.path_column, path.parent, str(path))

    def labelled(self, raw: Any, source: str = "the data") -> tuple[TensorData, int]:
        """Inputs and targets of the labelled rows (labels: the class sub-folders, or the target column)."""
        target = self.state["target"]
        if not isinstance(raw, pd.DataFrame) or target not in raw.columns or raw[target].isna().all():
            raise DataError(
                f"{source} has no labels; evaluation needs them",
                hint=f"use a folder with one sub-folder per class, or a table with a '{target}' column",
            )
        raw = raw[raw[target].notna()]
        y, known = self.transform_target(raw[target])
        if not known.any():
            raise DataError(f"no image of {source} has a class the model knows ({', '.join(map(str, self.classes))})")
        return TensorData(self.transform(raw[known], source), y), int((~known).sum())

    def prediction_columns(self, raw: Any) -> pd.DataFrame:
        """The path of each predicted image, first in the predictions table."""
        if isinstance(raw, pd.DataFrame) and self.path_column in raw.columns:
            return raw[[self.path_column]]
        if isinstance(raw, list | tuple):
            return pd.DataFrame({self.path_column: [str(p) for p in raw]})
        return pd.DataFrame(index=range(len(raw)))
