"""Convolutional networks for images (N x C x H x W): a plain conv stack and a small ResNet.

Both have one stage per entry of ``model.channels``; the resolution halves between stages, and global
average pooling feeds a linear head, so any input size works. ``model.name: auto`` picks between them
by the size of the data (see :func:`image_rule`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deepfit.config import AutoModelConfig, ConvConfig
from deepfit.data.spec import DataSpec
from deepfit.models.init import init_weights
from deepfit.models.mlp import ACTIVATIONS
from deepfit.models.select import register_rule, within_budget


def conv_bn(c_in: int, c_out: int, activation: str, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (no bias: batch norm has one) → batch norm → activation."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        ACTIVATIONS[activation](),
    )


def _head(width: int, n_outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout) if dropout else nn.Identity(),
        nn.Linear(width, n_outputs),
    )


class ConvNet(nn.Module):
    """``(conv-BN-act × blocks → max-pool) × stages → global average pool → dropout → linear``.

    No pooling after the last stage, nor once the feature map is down to one pixel a side.
    """

    def __init__(
        self,
        in_shape: list[int],
        n_outputs: int,
        channels: list[int],
        *,
        blocks: int = 2,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        c_in, height, width = in_shape
        layers: list[nn.Module] = []
        for stage, c_out in enumerate(channels):
            for block in range(blocks):
                layers.append(conv_bn(c_in if block == 0 else c_out, c_out, activation))
            c_in = c_out
            if stage < len(channels) - 1 and min(height, width) >= 2:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
                height, width = math.ceil(height / 2), math.ceil(width / 2)
        self.features = nn.Sequential(*layers)
        self.head = _head(c_in, n_outputs, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity shortcut (a 1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: str) -> None:
        super().__init__()
        self.conv1 = conv_bn(c_in, c_out, activation, stride)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn2(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNet(nn.Module):
    """``stem conv → (BasicBlock × blocks) × stages → global average pool → dropout → linear``.

    The first block of each later stage has stride 2 (while the map is at least 2 pixels a side);
    images of 64 pixels a side or more start with a stride-2 stem.
    """

    def __init__(
        self,
        in_shape: list[int],
        n_outputs: int,
        channels: list[int],
        *,
        blocks: int = 2,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        c_in, height, width = in_shape
        stem_stride = 2 if min(height, width) >= 64 else 1
        self.stem = conv_bn(c_in, channels[0], activation, stem_stride)
        side = math.ceil(min(height, width) / stem_stride)
        layers: list[nn.Module] = []
        c_in = channels[0]
        for stage, c_out in enumerate(channels):
            stride = 2 if stage > 0 and side >= 2 else 1
            side = math.ceil(side / stride)
            for block in range(blocks):
                layers.append(BasicBlock(c_in, c_out, stride if block == 0 else 1, activation))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.head = _head(c_in, n_outputs, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _build(cls: type[nn.Module], spec: DataSpec, config: ConvConfig) -> nn.Module:
    if len(spec.input_shape) != 3:
        raise ValueError(f"{cls.__name__} needs image data (input_shape [C, H, W]); got {spec.input_shape}")
    model = cls(
        spec.input_shape,
        spec.n_outputs,
        config.channels,
        blocks=config.blocks,
        activation=config.activation,
        dropout=config.dropout,
    )
    init_weights(model, config.init, config.activation)
    if isinstance(model, ResNet):  # each residual branch starts as zero: the block begins as the identity
        for block in model.modules():
            if isinstance(block, BasicBlock):
                nn.init.zeros_(block.bn2.weight)
    return model


def build_cnn(spec: DataSpec, config: ConvConfig) -> nn.Module:
    return _build(ConvNet, spec, config)


def build_resnet(spec: DataSpec, config: ConvConfig) -> nn.Module:
    return _build(ResNet, spec, config)


def image_rule(spec: DataSpec, config: AutoModelConfig) -> tuple[dict[str, Any], str]:
    """A conv stack for small data or small images, a ResNet otherwise; wider with more images.

    Stages: 2 below 8 pixels a side, 3 up to 63, 4 from 64. Width: 16 below 1,000 training images,
    32 below 20,000, 64 above, doubling each stage; halved until ``model.max_params`` is met.
    """
    n = max(spec.n_train, 1)
    _, height, width = spec.input_shape
    side = min(height, width)
    stages = 2 if side < 8 else 3 if side < 64 else 4
    name = "cnn" if n < 5_000 or side <= 16 else "resnet"
    base = 16 if n < 1_000 else 32 if n < 20_000 else 64
    candidates = [
        {"name": name, "channels": [max(4, (base >> shrink) << s) for s in range(stages)], "blocks": 2}
        for shrink in range(0, 4)
    ]
    updates, params = within_budget(candidates, spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    why = "small data or small images" if name == "cnn" else "5,000+ images larger than 16 pixels"
    reason = (
        f"{n:,} training images of {height}x{width} ({why}) → {name} {updates['channels']} "
        f"({params:,} parameters{budget})"
    )
    return updates, reason


register_rule("image", image_rule)
