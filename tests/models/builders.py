"""A user's own model, as `model.builder: tests.models.builders:tiny_net` names it."""

from __future__ import annotations

from torch import nn

from deepfit.data.spec import DataSpec


def tiny_net(spec: DataSpec) -> nn.Module:
    return nn.Sequential(nn.Linear(spec.n_features, 8), nn.ReLU(), nn.Linear(8, spec.n_outputs))
