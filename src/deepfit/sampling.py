"""Samples from a trained GAN run (``deepfit sample``, ``samples.csv`` / ``samples.png`` of a run): the run's
generator loaded from its directory, rows decoded to the table's columns or images tiled into one PNG."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfit.config import saved_model_config
from deepfit.data.spec import DataSpec
from deepfit.errors import DataError, RunError
from deepfit.models.gan import GAN, GanCodec, build_gan


def load_gan(run_dir: str | Path) -> tuple[GAN, GanCodec]:
    from deepfit.predictor import META, PREPROCESSING, WEIGHTS, load_weights, read_meta
    from deepfit.runs import MODEL, read_json, require_run_dir

    folder = require_run_dir(run_dir) / MODEL
    meta = read_meta(folder)
    if meta["model"].get("name") != "gan":
        raise RunError(
            f"{run_dir} is not a GAN run (model.name: {meta['model']['name']})",
            hint="deepfit sample needs a run trained with model.name: gan; use deepfit predict for this one",
        )
    model = build_gan(DataSpec.from_dict(meta["spec"]), saved_model_config(meta["model"]))
    load_weights(model, folder / WEIGHTS, str(folder / META))
    return model.eval(), GanCodec.from_dict(read_json(folder / PREPROCESSING))


def sample(run_dir: str | Path, n: int, *, seed: int | None = 0) -> pd.DataFrame | np.ndarray:
    """``n`` generated rows (a DataFrame) or images (uint8, N x H x W x C) from a trained GAN run."""
    if n < 1:
        raise DataError(f"the number of samples must be at least 1; got {n}")
    model, codec = load_gan(run_dir)
    return codec.decode(model.sample(n, seed=seed))


def write_samples(samples: pd.DataFrame | np.ndarray, path: str | Path) -> Path:
    """Rows to .csv / .parquet; images to a .png grid, or to a folder (no suffix) of one PNG each."""
    from deepfit.runs import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if isinstance(samples, pd.DataFrame):
        if suffix not in (".csv", ".parquet", ".pq"):
            raise DataError(f"{path}: generated rows are written to a .csv or .parquet file")
        write = (lambda f: samples.to_csv(f, index=False)) if suffix == ".csv" else samples.to_parquet
        atomic_write(path, write, mode="w" if suffix == ".csv" else "wb")
        return path
    if suffix == ".png":
        atomic_write(path, lambda f: image_grid(samples).save(f, format="PNG"), mode="wb")
    elif not suffix:
        for i, image in enumerate(samples):
            atomic_write(path / f"sample_{i:05d}.png", _png_writer(image), mode="wb")
    else:
        raise DataError(f"{path}: generated images are written to a .png grid or to a folder (a path without suffix)")
    return path


def image_grid(images: np.ndarray, scale: int | None = None, pad: int = 2) -> Any:
    """Tiles of uint8 images (N x H x W x C) in a near-square grid, upscaled so that 8x8 digits are visible."""
    from PIL import Image

    n, height, width, channels = images.shape
    scale = scale or max(1, 32 // max(height, width))
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tile_h, tile_w = height * scale + pad, width * scale + pad
    grid = Image.new("L" if channels == 1 else "RGB", (cols * tile_w + pad, rows * tile_h + pad), color=128)
    for i, image in enumerate(images):
        tile = _pil(image).resize((width * scale, height * scale), Image.Resampling.NEAREST)
        grid.paste(tile, (pad + (i % cols) * tile_w, pad + (i // cols) * tile_h))
    return grid


def _png_writer(image: np.ndarray) -> Callable[[Any], None]:
    """What writes ``image`` as a PNG to an open binary file."""
    return lambda f: _pil(image).save(f, format="PNG")


def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image[:, :, 0] if image.shape[2] == 1 else image))  # L or RGB
