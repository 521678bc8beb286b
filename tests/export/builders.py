"""A user's model that torch.export cannot capture: its forward branches on the values of its input."""

from __future__ import annotations

import torch
from torch import nn

from deepfit.data.spec import DataSpec


class Branchy(nn.Module):
    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(spec.n_features, spec.n_outputs), nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.sum()) > 0:  # Python control flow on a value: a data-dependent graph
            return self.a(x)
        return self.b(x)


def branchy(spec: DataSpec) -> nn.Module:
    return Branchy(spec)
