"""Multi-layer perceptron for tabular data, with optional categorical embeddings."""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import MLPConfig
from deepfit.data.spec import DataSpec
from deepfit.models.init import init_weights

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


class MLP(nn.Module):
    """``[embeddings ⊕ numeric] → (Linear → [BatchNorm] → act → [Dropout]) × len(hidden) → Linear``.

    Inputs are the tensors of the data pipeline: ``x`` (float features) and, when categorical columns
    are embedded, ``x_cat`` (one integer code per column, 0 meaning unknown).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: list[int],
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        cardinalities: list[int] | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        cards = cardinalities or []
        widths = [embedding_dim or min(32, (card + 1) // 2) for card in cards]
        self.embeddings = nn.ModuleList(nn.Embedding(card, dim) for card, dim in zip(cards, widths, strict=True))
        width = in_features + sum(widths)
        layers: list[nn.Module] = []
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        if self.embeddings:
            if x_cat is None:
                raise TypeError("MLP: x_cat (the categorical codes) is required when categorical columns are embedded")
            x = torch.cat([x, *(emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings))], dim=1)
        return self.head(self.body(x))


def build_mlp(spec: DataSpec, config: MLPConfig) -> MLP:
    model = MLP(
        spec.n_features,
        spec.n_outputs,
        config.hidden,
        activation=config.activation,
        dropout=config.dropout,
        batch_norm=config.batch_norm,
        cardinalities=spec.cardinalities,
        embedding_dim=config.embedding_dim,
    )
    init_weights(model, config.init, config.activation)
    return model
