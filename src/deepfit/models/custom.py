"""``model.name: custom``: a user's own ``nn.Module`` built from the resolved data shapes."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from torch import nn

from deepfit.config import ModelConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError


def load_builder(path: str | None):
    """Import ``"package.module:function"`` or ``"file.py:function"``.

    A module name is imported with the working directory on the path, as for ``python -m``; a ``.py`` file
    is relative to the config file's folder (made absolute when the config is loaded, so a saved run finds it).
    """
    if not path or ":" not in path:
        raise ConfigError(
            f"model.builder must be 'package.module:function' or 'file.py:function' for model.name: custom; "
            f"got {path!r}",
            hint="for example model.builder: my_models.py:build (my_models.py beside the config file)",
        )
    module_name, _, attr = path.rpartition(":")
    try:
        module = _import_file(Path(module_name)) if module_name.endswith(".py") else _import_module(module_name)
    except (ImportError, OSError) as exc:
        raise ConfigError(f"model.builder: cannot import '{module_name}': {exc}") from None
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise ConfigError(f"model.builder: '{module_name}' has no function '{attr}'")
    return builder


def _import_module(name: str) -> ModuleType:
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    return importlib.import_module(name)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ImportError(f"no such file {path}")
    spec = importlib.util.spec_from_file_location(f"deepfit_user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_custom(spec: DataSpec, config: ModelConfig) -> nn.Module:
    builder = load_builder(config.builder)
    takes_config = len(inspect.signature(builder).parameters) >= 2
    model = builder(spec, config) if takes_config else builder(spec)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.builder {config.builder} returned {type(model).__name__}, not a torch nn.Module")
    return model
