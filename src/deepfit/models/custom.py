"""``model.name: custom``: a user's own ``nn.Module`` built from the resolved data shapes."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from deepfit.config import CustomConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError, RunError


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
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_custom(spec: DataSpec, config: CustomConfig) -> nn.Module:
    builder = load_builder(config.builder)
    takes_config = len(inspect.signature(builder).parameters) >= 2
    model = builder(spec, config) if takes_config else builder(spec)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.builder {config.builder} returned {type(model).__name__}, not a torch nn.Module")
    return model


# ---------------------------------------------------------------- a run's builder is code: trust and hash
def builder_source(path: str) -> Path | None:
    """The file that ``model.builder`` runs: the ``.py`` file, or the module's file once it is importable."""
    module_name = path.rpartition(":")[0]
    if module_name.endswith(".py"):
        return Path(module_name)
    module = sys.modules.get(module_name)
    if module is None:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            spec = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    else:
        origin = getattr(module, "__file__", None)
    return Path(origin) if origin else None


def builder_digest(path: str) -> dict[str, Any]:
    """What a run records about its builder: the file and the SHA-256 of its bytes."""
    source = builder_source(path)
    if source is None or not source.is_file():
        return {"builder": path}
    return {"builder": path, "file": str(source.resolve()), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}


def check_trusted(recorded: dict[str, Any] | None, builder: str | None, trust_code: bool, where: str) -> None:
    """A run whose model is a user's builder runs that code when loaded: only with ``trust_code``, and only
    when the file is the one the run was trained with."""
    recorded = recorded or {"builder": builder}
    file = recorded.get("file") or builder
    if not trust_code:
        raise RunError(
            f"{where} was trained with model.builder {builder}: loading it would run the Python code in {file}; "
            "deepfit never runs code from a run directory unless you say so",
            hint="if you trust that file, pass --trust-code (CLI) or trust_code=True (Python)",
        )
    if "sha256" not in recorded:
        return  # made before builders were recorded: the opt-in is all there is to go on
    source = Path(recorded["file"])
    if not source.is_file():
        raise RunError(f"{where}: its model builder {source} no longer exists", hint="restore the file")
    now = hashlib.sha256(source.read_bytes()).hexdigest()
    if now != recorded["sha256"]:
        raise RunError(
            f"{where}: its model builder {source} has changed since the run was trained "
            f"(SHA-256 {recorded['sha256'][:12]}… then, {now[:12]}… now); the weights may not fit the new code",
            hint="restore the file as it was, or train a new run with the changed builder",
        )
