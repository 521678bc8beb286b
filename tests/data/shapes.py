"""Tiny synthetic image data for the image tests: coloured circles, squares and triangles drawn with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape: str, size: int, rng: np.random.Generator, mode: str = "RGB") -> Image.Image:
    """One shape of random colour, position and size on a random dark background."""
    background = tuple(int(v) for v in rng.integers(0, 60, 3))
    colour = tuple(int(v) for v in rng.integers(140, 256, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.25, 0.4) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
    return image.convert(mode)


def write_shapes(
    folder: Path, per_class: int = 8, size: int = 16, seed: int = 0, mode: str = "RGB", shapes: tuple = SHAPES
) -> list[Path]:
    """``folder/<shape>/<i>.png`` for each shape; returns the files written."""
    rng = np.random.default_rng(seed)
    files = []
    for shape in shapes:
        (folder / shape).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            path = folder / shape / f"{i:03d}.png"
            draw_shape(shape, size, rng, mode).save(path)
            files.append(path)
    return files
