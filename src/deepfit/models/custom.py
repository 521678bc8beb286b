"""``model.name: custom``: a user's own ``nn.Module`` built from the resolved data shapes."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

from torch import nn

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError


def load_builder(path: str | None):
    """Import ``"package.module:function"``; the working directory is importable, as for ``python -m``."""
    if not path or ":" not in path:
        raise ConfigError(
            f"model.builder must be 'package.module:function' for model.name: custom; got {path!r}",
            hint="for example model.builder: my_models:build (my_models.py in the working directory)",
        )
    module_name, _, attr = path.partition(":")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model.builder: cannot import '{module_name}': {exc}") from None
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise ConfigError(f"model.builder: '{module_name}' has no function '{attr}'")
    return builder


def build_custom(spec: DataSpec, config: ModelConfig) -> nn.Module:
    builder = load_builder(config.builder)
    takes_config = len(inspect.signature(builder).parameters) >= 2
    model = builder(spec, config) if takes_config else builder(spec)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.builder {config.builder} returned {type(model).__name__}, not a torch nn.Module")
    return model
