"""Weight initialisation schemes, applied to Linear (and later Conv/RNN) layers."""

from __future__ import annotations

from typing import Literal

from torch import nn

# The names nn.init's gain functions take, for our activations.
GainName = Literal["relu", "leaky_relu", "tanh", "sigmoid"]

# The gain of each activation for kaiming/xavier, so that activations keep their scale layer to layer.
_NONLINEARITY: dict[str, GainName] = {
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "gelu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
}


def init_weights(module: nn.Module, scheme: str, activation: str = "relu") -> None:
    """Initialise every Linear/Conv weight of ``module`` in place; biases start at zero.

    ``default`` leaves PyTorch's own initialisation untouched.
    """
    if scheme == "default":
        return
    nonlinearity: GainName = _NONLINEARITY.get(activation, "relu")
    for layer in module.modules():
        if not isinstance(layer, nn.Linear | nn.Conv1d | nn.Conv2d):
            continue
        if scheme == "kaiming":
            nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain(nonlinearity))
        elif scheme == "orthogonal":
            nn.init.orthogonal_(layer.weight, gain=nn.init.calculate_gain(nonlinearity))
        else:
            raise ValueError(f"unknown init scheme '{scheme}'; known: kaiming, xavier, orthogonal, default")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
