"""An architecture with config keys of its own, an optimizer and a schedule, defined outside deepfit.

With the point-cloud kind beside it (``pointcloud.py``), ``register_all`` plugs every family a user can add
into deepfit without a change to its files; ``USED`` counts the calls, so a test can see each was used.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

import deepfit
from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.models.registry import register_architecture

USED = {"builder": 0, "optimizer": 0, "schedule": 0}


class TanhNetConfig(ModelConfig):
    """model.name: tanhnet, with a key of its own."""

    size_keys: ClassVar[tuple[str, ...]] = ("width",)
    name: str = "tanhnet"
    width: int = Field(16, ge=1, description="Units of the one hidden layer.")


def build_tanhnet(spec: DataSpec, config: TanhNetConfig) -> nn.Module:
    USED["builder"] += 1
    return nn.Sequential(
        nn.Linear(spec.n_features, config.width),
        nn.Tanh(),
        nn.Dropout(config.dropout),
        nn.Linear(config.width, spec.n_outputs),
    )


def heavy_ball(groups: list[dict[str, Any]], lr: float, config: Any) -> torch.optim.Optimizer:
    USED["optimizer"] += 1
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def halving(step: int, total_steps: int, steps_per_epoch: int, config: Any) -> float:
    """The rate halves every two epochs."""
    USED["schedule"] += 1
    return 0.5 ** (step // (2 * max(steps_per_epoch, 1)))


def register_all() -> None:
    deepfit.register_data_kind("pointcloud", "tests.plugin_kind.pointcloud:PointCloudKind")
    register_architecture("tanhnet", build_tanhnet, config=TanhNetConfig)
    deepfit.register_optimizer("heavy_ball", heavy_ball)
    deepfit.register_schedule("halving", halving)
