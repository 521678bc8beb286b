"""GANs for tables and small images: the two networks, the codec that decodes their samples, sampling a run.

Tables: an MLP generator whose output has one block per column kind — standardised numbers (identity) and
one block per categorical column (a Gumbel-softmax while training, so that gradients flow; an exact one-hot
of the argmax in eval mode) — and an MLP discriminator. Images: DCGAN-style nets (transposed convolutions
up, strided convolutions down), sized from the image (8x8 up to 64x64). ``GAN`` holds both; ``GAN(z)``
generates. The codec (``model/preprocessing.json``) turns generator outputs back into rows in the original
units and category names, or into uint8 images.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from deepfit.config import CleanConfig, GANConfig, ModelConfig, PreprocessConfig
from deepfit.data.kind import Preprocessor
from deepfit.data.schema import Schema
from deepfit.data.spec import DataSpec
from deepfit.data.tabular.preprocess import TabularPreprocessor, category_key
from deepfit.errors import ConfigError, DataError
from deepfit.models.mlp import ACTIVATIONS

GUMBEL_TAU = 0.2  # close to one-hot, so the discriminator cannot tell generated categories by their softness


# ---------------------------------------------------------------- networks
class TabularGenerator(nn.Module):
    """``z → (Linear → BatchNorm → act) × len(hidden) → Linear``, then each column block's own activation."""

    def __init__(self, latent_dim: int, blocks: list[list[Any]], hidden: list[int], activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        width = latent_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), ACTIVATIONS[activation]()]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, sum(w for _, w in blocks))
        self.blocks = [(kind, int(w)) for kind, w in blocks]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, parts, start = self.head(self.body(z)), [], 0
        for kind, width in self.blocks:
            block = out[:, start : start + width]
            if kind == "categorical":
                block = (
                    F.gumbel_softmax(block, tau=GUMBEL_TAU)
                    if self.training
                    else F.one_hot(block.argmax(1), width).to(block.dtype)
                )
            parts.append(block)
            start += width
        return torch.cat(parts, dim=1)


class MinibatchStd(nn.Module):
    """Appends one feature: the batch's mean standard deviation (ProGAN). A batch of near-identical samples
    then looks fake by itself, so the generator cannot settle on a few modes (mode collapse)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.std(dim=0, unbiased=False).mean() if len(x) > 1 else x.new_zeros(())
        return torch.cat([x, spread.expand(len(x), 1)], dim=1)


def _mlp_discriminator(n_features: int, hidden: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.LeakyReLU(0.2)] + ([nn.Dropout(dropout)] if dropout else [])
        width = size
    return nn.Sequential(*layers, MinibatchStd(), nn.Linear(width + 1, 1))


def halvings(height: int, width: int, limit: int = 4) -> int:
    """How many times both sides halve while they stay even and at least 4 (8 → 1, 28 → 2, 32 → 3)."""
    k = 0
    while k < limit and height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, k = height // 2, width // 2, k + 1
    return k


class ConvGenerator(nn.Module):
    """DCGAN: ``z → Linear → C×h×w`` at the base size, ``(ConvTranspose 4/2 → BN → ReLU) × k``, ``conv → tanh``."""

    def __init__(self, latent_dim: int, shape: list[int], channels: list[int]):
        super().__init__()
        c_out, height, width = shape
        k = halvings(height, width)
        w = [channels[min(i, len(channels) - 1)] for i in range(k + 1)]
        self.base = (w[k], height >> k, width >> k)
        self.project = nn.Sequential(nn.Linear(latent_dim, math.prod(self.base)), nn.BatchNorm1d(math.prod(self.base)))
        ups: list[nn.Module] = [nn.ReLU()]
        for i in reversed(range(k)):
            ups += [nn.ConvTranspose2d(w[i + 1], w[i], 4, 2, 1, bias=False), nn.BatchNorm2d(w[i]), nn.ReLU()]
        self.body = nn.Sequential(*ups, nn.Conv2d(w[0], c_out, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(len(z), *self.base))


def _conv_discriminator(shape: list[int], channels: list[int], norm: bool) -> nn.Sequential:
    """Mirror of the generator: ``(conv 4/2 → [BN] → LeakyReLU) × k``, ``conv 3x3``, linear to one score.

    No batch norm on the first layer (DCGAN) nor anywhere under wgan_gp: the gradient penalty is per sample.
    """
    c_in, height, width = shape
    k = halvings(height, width)
    w = [channels[min(i, len(channels) - 1)] for i in range(k + 1)]
    layers: list[nn.Module] = []
    for i in range(k):
        layers += [nn.Conv2d(c_in if i == 0 else w[i - 1], w[i], 4, 2, 1)]
        layers += ([nn.BatchNorm2d(w[i])] if norm and i > 0 else []) + [nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(w[k - 1] if k else c_in, w[k], 3, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Flatten(), MinibatchStd(), nn.Linear(w[k] * (height >> k) * (width >> k) + 1, 1))


def _dcgan_init(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), as in the DCGAN paper."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


class GAN(nn.Module):
    """A generator and a discriminator; ``GAN(z)`` is the (training) generator's output for the noise ``z``.

    With ``ema`` > 0, ``average`` is a moving average of the generator's weights: GAN weights oscillate from
    step to step, and their average makes steadier samples (as StyleGAN and BigGAN do); ``sample`` uses it.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int, ema: float = 0.0) -> None:
        super().__init__()
        self.generator, self.discriminator, self.latent_dim, self.ema = generator, discriminator, latent_dim, ema
        self.average = copy.deepcopy(generator).requires_grad_(False) if ema else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    @torch.no_grad()
    def update_average(self, steps: int) -> None:
        """Move the average towards the generator; early on faster (decay (1 + t) / (10 + t)), so it leaves the init."""
        if self.average is None:
            return
        decay = min(self.ema, (1 + steps) / (10 + steps))
        for mine, theirs in zip(self.average.state_dict().values(), self.generator.state_dict().values(), strict=True):
            if mine.is_floating_point():  # weights and batch-norm statistics; the batch counter is copied
                mine.lerp_(theirs, 1 - decay)
            else:
                mine.copy_(theirs)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, batch_size: int = 4096) -> torch.Tensor:
        """``n`` samples in eval mode (exact one-hot categories), on the CPU; the same seed gives the same ones."""
        net = self.average if self.average is not None else self.generator
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        device = next(self.parameters()).device
        was_training = net.training
        net.eval()
        z = torch.randn(n, self.latent_dim, generator=rng)
        out = [net(z[i : i + batch_size].to(device)).cpu() for i in range(0, n, batch_size)]
        net.train(was_training)
        return torch.cat(out) if out else torch.empty(0)


def build_gan(spec: DataSpec, config: ModelConfig) -> GAN:
    """Images ([C, H, W] in spec.input_shape): DCGAN nets; tables: MLPs over spec.extra["gan_blocks"].

    ``config`` holds the gan keys (a :class:`GANConfig`, as ``model.name: gan`` makes).
    """
    if not isinstance(config, GANConfig):
        raise ConfigError(f"a GAN is built from the model keys of model.name gan; got those of {config.name!r}")
    generator: nn.Module
    if spec.kind == "image":
        generator = ConvGenerator(config.latent_dim, spec.input_shape, config.channels)
        discriminator = _conv_discriminator(spec.input_shape, config.channels, norm=config.gan_loss != "wgan_gp")
        for net in (generator, discriminator):
            _dcgan_init(net)
        return GAN(generator, discriminator, config.latent_dim, config.gan_ema)  # the average starts at the init
    blocks = spec.extra.get("gan_blocks") or [["numeric", spec.n_features]]
    generator = TabularGenerator(config.latent_dim, blocks, config.hidden[::-1], config.activation)
    discriminator = _mlp_discriminator(spec.n_features, config.hidden, config.dropout)
    return GAN(generator, discriminator, config.latent_dim, config.gan_ema)


# ---------------------------------------------------------------- codec
class GanCodec:
    """Between data and the generator's space: rows ↔ standardised numbers and one-hots, images ↔ [-1, 1].

    Saved as ``model/preprocessing.json`` (kind ``gan``); ``deepfit predict`` on a GAN run gets a clear error.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        raw = state.get("preprocessor")
        self.pre = TabularPreprocessor.from_dict(raw) if raw else None

    @property
    def _table(self) -> Preprocessor:
        """The preprocessor of a tabular GAN's rows (an image GAN has none)."""
        if self.pre is None:
            raise DataError("this GAN generates images: it has no rows to encode or decode")
        return self.pre

    @classmethod
    def fit_tabular(cls, frame: pd.DataFrame, schema: Schema, clean: CleanConfig) -> GanCodec:
        """Every column the data pipeline kept, the target included, fitted on the training rows."""
        # dates and free text cannot be drawn back as values: a GAN generates the other columns
        kinds = {
            c: "categorical" if k == "boolean" else k for c, k in schema.kinds.items() if k not in ("date", "text")
        }
        kinds[schema.target] = "categorical" if schema.task == "classification" else "numeric"
        settings = PreprocessConfig(scaling="standard", categorical="onehot", min_frequency=1)
        pre = TabularPreprocessor(settings, clean.numeric_impute).fit(frame, Schema(schema.target, schema.task, kinds))
        numbers = frame[pre.state["numeric"]["columns"]].apply(pd.to_numeric, errors="coerce")
        # category keys (text) back to the values as read, so "3" is written as the number 3 again
        labels = {c: {category_key(v): _plain(v) for v in frame[c].dropna().unique()} for c in pre.state["onehot"]}
        state = {
            "kind": "gan",
            "data": "tabular",
            "target": schema.target,
            "task": "generation",
            "columns": [c for c in frame.columns if c in kinds],
            "preprocessor": pre.to_dict(),
            "integer": [bool(np.all(np.mod(numbers[c].dropna(), 1) == 0)) for c in numbers.columns],
            "min": [float(v) for v in numbers.min()],
            "max": [float(v) for v in numbers.max()],
            "labels": labels,
        }
        return cls(state)

    @classmethod
    def for_images(cls, shape: list[int], classes: list[Any], target: str = "label") -> GanCodec:
        return cls({"kind": "gan", "data": "image", "shape": list(shape), "classes": classes, "target": target})

    @property
    def is_image(self) -> bool:
        return self.state["data"] == "image"

    @property
    def classes(self) -> list[Any]:
        return self.state.get("classes", [])

    @property
    def blocks(self) -> list[list[Any]]:
        state = self._table.state
        numeric = [["numeric", len(state["numeric"]["columns"])]] if state["numeric"]["columns"] else []
        return numeric + [["categorical", len(info["categories"])] for info in state["onehot"].values()]

    def encode(self, frame: pd.DataFrame) -> torch.Tensor:
        return self._table.transform(frame, source="the GAN's rows")[0]

    def decode(self, x: torch.Tensor) -> pd.DataFrame | np.ndarray:
        """Rows in original units and category names, or uint8 images N x H x W x C."""
        values = x.detach().cpu().numpy().astype(np.float64)
        if self.is_image:
            return np.round((values.clip(-1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
        s, columns = self._table.state, {}
        num = s["numeric"]
        n = len(num["columns"])
        numbers = (values[:, :n] * np.array(num["scale"]) + np.array(num["center"])).clip(
            self.state["min"], self.state["max"]
        )
        for i, column in enumerate(num["columns"]):
            columns[column] = np.round(numbers[:, i]).astype(np.int64) if self.state["integer"][i] else numbers[:, i]
        start = n
        for column, info in s["onehot"].items():
            width = len(info["categories"])
            keys = np.asarray(info["categories"], dtype=object)[values[:, start : start + width].argmax(1)]
            columns[column] = pd.Series(keys).map(self.state["labels"][column]).to_numpy()
            start += width
        frame = pd.DataFrame(columns)
        return frame[self.state["columns"]]

    def read_input(self, *args: Any, **kwargs: Any) -> Any:
        """``deepfit predict`` / ``evaluate --data`` on a GAN run: say what to do instead."""
        raise DataError(
            "this run is a GAN: it generates data and does not predict",
            hint="draw samples with: deepfit sample RUN_DIR -n 100 -o samples.csv (or .png for images)",
        )

    transform = labelled = read_input

    def to_dict(self) -> dict[str, Any]:
        return self.state

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GanCodec:
        return cls(dict(raw))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# ---------------------------------------------------------------- sampling a saved run
