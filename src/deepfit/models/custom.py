"""``model.name: custom``: a user's own ``nn.Module`` built from the resolved data shapes."""

from __future__ import annotations

import inspect

from torch import nn

from deepfit.code import load_code
from deepfit.config import CustomConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError


def build_custom(spec: DataSpec, config: CustomConfig) -> nn.Module:
    builder = load_code(config.builder)
    takes_config = len(inspect.signature(builder).parameters) >= 2
    model = builder(spec, config) if takes_config else builder(spec)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.builder {config.builder} returned {type(model).__name__}, not a torch nn.Module")
    return model
