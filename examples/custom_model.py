"""A user's own network for ``model.name: custom`` (see ``examples/custom_model.yaml``).

deepfit calls the builder with the resolved data spec (input width, classes, shapes) and the model config,
after the data is read, cleaned and preprocessed; it trains, evaluates, saves and serves whatever
``nn.Module`` comes back. This one is a small residual MLP: each block adds its output to its input.
"""

from __future__ import annotations

from torch import Tensor, nn

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def build(spec: DataSpec, config: ModelConfig) -> nn.Module:
    """Inputs: one float tensor (batch, spec.n_features) for tables; outputs: spec.n_outputs logits."""
    width = config.hidden[0]
    return nn.Sequential(
        nn.Linear(spec.n_features, width),
        *(ResidualBlock(width, config.dropout) for _ in config.hidden),
        nn.LayerNorm(width),
        nn.Linear(width, spec.n_outputs),
    )
