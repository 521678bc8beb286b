"""Image augmentation of whole training batches, as tensors on the training device.

Each op is a function ``op(x, strength, stats) -> x`` on a normalised float batch (N x C x H x W) that
draws a different random transformation for every image from torch's global generator (which
``deepfit`` seeds, so runs repeat). ``ImageAugment`` chains the ops a config enables and is set as the
training split's ``TensorData.augment``: the training loop applies it to training batches only, never
to validation, test or prediction. Mixup alone changes the target, to class probabilities
(``CrossEntropyLoss`` accepts them), so metrics are still computed on hard labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from deepfit.config import AugmentConfig
from deepfit.data.registry import AUGMENTATIONS


@dataclass
class Stats:
    """Per-channel normalisation, so ops can work in pixel terms: pixel = x * std + mean (0..1)."""

    mean: torch.Tensor  # 1 x C x 1 x 1
    std: torch.Tensor

    @property
    def black(self) -> torch.Tensor:
        return -self.mean / self.std

    @property
    def white(self) -> torch.Tensor:
        return (1 - self.mean) / self.std

    def to(self, device: torch.device) -> Stats:
        return Stats(self.mean.to(device), self.std.to(device))


def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device) * (high - low) + low


def flip(x: torch.Tensor, enabled: bool, stats: Stats) -> torch.Tensor:
    """Mirror half the images left-right."""
    mirrored = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(mirrored[:, None, None, None], x.flip(3), x)


def crop(x: torch.Tensor, pad: int, stats: Stats) -> torch.Tensor:
    """Pad with black by ``pad`` pixels, then cut each image back to its size at a random offset."""
    n, _, h, w = x.shape
    padded = F.pad(x - stats.black, (pad, pad, pad, pad)) + stats.black
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    rows = (torch.arange(h, device=x.device) + dy)[:, None, :, None]  # n x 1 x h x 1
    cols = (torch.arange(w, device=x.device) + dx)[:, None, None, :]  # n x 1 x 1 x w
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def affine(x: torch.Tensor, amounts: tuple[float, float, float], stats: Stats) -> torch.Tensor:
    """Random rotation (± degrees), shift (± fraction of the size) and zoom (± fraction), filled with black."""
    degrees, shift, zoom = amounts
    n, _, h, w = x.shape
    angle = _uniform(n, -degrees, degrees, x.device) * (math.pi / 180)
    scale = 1 / _uniform(n, 1 - zoom, 1 + zoom, x.device)  # the grid samples the input: zoom in = smaller grid
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(n, 2, 3, device=x.device)
    # affine_grid works in [-1, 1] on both axes: rotating a non-square image needs the aspect ratio
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    theta[:, :, 2] = _uniform(2 * n, -2 * shift, 2 * shift, x.device).view(n, 2)  # [-1, 1] spans 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - stats.black, grid, padding_mode="zeros", align_corners=False) + stats.black


def brightness(x: torch.Tensor, amount: float, stats: Stats) -> torch.Tensor:
    """Multiply each image's pixels by a factor in [1 - amount, 1 + amount]."""
    factor = _uniform(len(x), 1 - amount, 1 + amount, x.device).view(-1, 1, 1, 1)
    # (x * std + mean) * f, normalised again
    return torch.maximum(torch.minimum(x * factor + stats.mean / stats.std * (factor - 1), stats.white), stats.black)


def contrast(x: torch.Tensor, amount: float, stats: Stats) -> torch.Tensor:
    """Scale each image's distance from its own mean by a factor in [1 - amount, 1 + amount]."""
    factor = _uniform(len(x), 1 - amount, 1 + amount, x.device).view(-1, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return torch.maximum(torch.minimum((x - mean) * factor + mean, stats.white), stats.black)


def noise(x: torch.Tensor, std: float, stats: Stats) -> torch.Tensor:
    """Add Gaussian noise of ``std`` in pixel terms (1.0 = the whole black-to-white range)."""
    return x + torch.randn_like(x) * (std / stats.std)


def cutout(x: torch.Tensor, side: int, stats: Stats) -> torch.Tensor:
    """Blank (to black) one square of ``side`` pixels per image, centred anywhere (it may overhang the edge)."""
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    half = side / 2
    inside = ((rows - cy).abs() < half) & ((cols - cx).abs() < half)  # n x h x w
    return torch.where(inside[:, None], stats.black, x)


Op = Callable[[torch.Tensor, Any, Stats], torch.Tensor]


def mixup(x: torch.Tensor, target: torch.Tensor, alpha: float, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Blend each image and its label with another image of the batch by ``lam ~ Beta(alpha, alpha)``.

    Class targets become probabilities (N x classes); regression targets are blended directly.
    """
    concentration = torch.tensor(float(alpha), device=x.device)
    lam = torch.distributions.Beta(concentration, concentration).sample()
    partner = torch.randperm(len(x), device=x.device)
    if n_classes:
        target = F.one_hot(target, n_classes).to(x.dtype)
    return lam * x + (1 - lam) * x[partner], lam * target + (1 - lam) * target[partner]


class ImageAugment:
    """The enabled ops of an ``AugmentConfig``, applied batch-wise: ``augment(inputs, target)``."""

    def __init__(self, config: AugmentConfig, mean: list[float], std: list[float], n_classes: int = 0) -> None:
        self.config = config
        self.n_classes = n_classes  # 0: regression (mixup blends the values)
        self.stats = Stats(torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1))
        c = config
        strengths = {
            "flip": c.flip,
            "crop": c.crop,
            "affine": (c.rotate, c.translate, c.scale) if (c.rotate or c.translate or c.scale) else 0,
            "brightness": c.brightness,
            "contrast": c.contrast,
            "cutout": c.cutout,
            "noise": c.noise,
        }
        # geometry first, then colour, then what blanks or adds on top; registered ones last (data.augment.custom)
        wanted = [*strengths.items(), *c.custom.items()]
        self.ops: list[tuple[Op, Any]] = [(AUGMENTATIONS.get(name), strength) for name, strength in wanted if strength]

    @property
    def enabled(self) -> bool:
        return bool(self.ops) or self.config.mixup > 0

    def __call__(
        self, inputs: tuple[torch.Tensor, ...], target: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        x, *rest = inputs
        if self.stats.mean.device != x.device:
            self.stats = self.stats.to(x.device)
        for op, strength in self.ops:
            x = op(x, strength, self.stats)
        if self.config.mixup > 0:
            x, target = mixup(x, target, self.config.mixup, self.n_classes)
        return (x, *rest), target


def build_augment(
    config: AugmentConfig, mean: list[float], std: list[float], n_classes: int = 0
) -> ImageAugment | None:
    """The training split's augmentation, or None when the config enables no op."""
    augment = ImageAugment(config, mean, std, n_classes)
    return augment if augment.enabled else None
