"""Write a small synthetic image folder: coloured circles, squares and triangles, one sub-folder per class.

    python examples/make_image_folder.py                 # writes examples/data/shapes/{circle,square,triangle}/
    deepfit train examples/images_folder.yaml            # trains a CNN on it
    deepfit predict runs/images_folder-<time>/ examples/data/shapes -o predictions.csv

Each image is 32x32 RGB: one bright shape of random colour, size, position and rotation on a dark background
of random colour, with a little noise, so the classes differ only by shape.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    background = rng.integers(0, 100, 3)  # a dark background, a bright shape: colours vary, contrast stays
    colour = rng.integers(150, 256, 3)
    image = Image.new("RGB", (size, size), tuple(int(v) for v in background))
    pen = ImageDraw.Draw(image)
    radius = rng.uniform(0.2, 0.38) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    fill = tuple(int(v) for v in colour)
    if shape == "circle":
        pen.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    else:
        corners = 4 if shape == "square" else 3
        turn = rng.uniform(0, 2 * math.pi)
        points = [
            (
                cx + radius * math.cos(turn + 2 * math.pi * k / corners),
                cy + radius * math.sin(turn + 2 * math.pi * k / corners),
            )
            for k in range(corners)
        ]
        pen.polygon(points, fill=fill)
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_folder(folder: Path, per_class: int, size: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (folder / shape).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw(shape, size, rng).save(folder / shape / f"{shape}_{i:04d}.png")
    return per_class * len(SHAPES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=Path(__file__).parent / "data" / "shapes", type=Path)
    parser.add_argument("--per-class", type=int, default=300, help="images per class")
    parser.add_argument("--size", type=int, default=32, help="side of each image in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    count = write_folder(args.folder, args.per_class, args.size, args.seed)
    print(f"wrote {count} images to {args.folder}")


if __name__ == "__main__":
    main()
