"""User code named in a config: ``"file.py:function"`` or ``"package.module:function"``.

A custom model's builder (``model.builder``) and a registry name written as code (``train.optimizer: opt.py:make``)
are imported when first used. A run records each such file and the SHA-256 of its bytes; code named in a run
directory runs again (``--resume``, loading the model) only with ``trust_code``, and only while the file is
unchanged: deepfit never runs code from a run directory unless the user says so (docs/safety.md). Torch-free.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from deepfit.errors import ConfigError, RunError

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_code_name(text: Any) -> bool:
    """``"file.py:function"`` or ``"package.module:function"`` (a name that only code can resolve)."""
    if not isinstance(text, str) or ":" not in text:
        return False
    module, _, attr = text.rpartition(":")
    return attr.isidentifier() and (module.endswith(".py") or bool(_MODULE.match(module)))


def load_code(path: str | None, key: str = "model.builder") -> Callable[..., Any]:
    """Import ``"package.module:function"`` or ``"file.py:function"`` (``key``: the config key naming it).

    A module name is imported with the working directory on the path, as for ``python -m``; a ``.py`` file
    is relative to the config file's folder (made absolute when the config is loaded, so a saved run finds it).
    """
    if not path or ":" not in path:
        raise ConfigError(
            f"{key} must be 'package.module:function' or 'file.py:function'; got {path!r}",
            hint=f"for example {key}: my_code.py:build (my_code.py beside the config file)",
        )
    module_name, _, attr = path.rpartition(":")
    try:
        module = _import_file(Path(module_name)) if module_name.endswith(".py") else _import_module(module_name)
    except (ImportError, OSError) as exc:
        raise ConfigError(f"{key}: cannot import '{module_name}': {exc}") from None
    found = getattr(module, attr, None)
    if not callable(found):
        raise ConfigError(f"{key}: '{module_name}' has no function '{attr}'")
    return found


def _import_module(name: str) -> ModuleType:
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    return importlib.import_module(name)


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ImportError(f"no such file {path}")
    spec = importlib.util.spec_from_file_location(f"deepfit_user_code_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_source(path: str) -> Path | None:
    """The file that ``path`` runs: the ``.py`` file, or the module's file once it is importable."""
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


def code_digest(path: str) -> dict[str, Any]:
    """What a run records about code it names: the name, its file and the SHA-256 of the file's bytes."""
    source = code_source(path)
    if source is None or not source.is_file():
        return {"builder": path}
    return {"builder": path, "file": str(source.resolve()), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}


def check_trusted(
    recorded: dict[str, Any] | None, path: str | None, trust_code: bool, where: str, key: str = "model.builder"
) -> None:
    """Code a run names runs again only with ``trust_code``, and only while its file is the one it trained with."""
    recorded = recorded or {"builder": path}
    file = recorded.get("file") or path
    if not trust_code:
        raise RunError(
            f"{where} was trained with {key} {path}: loading it would run the Python code in {file}; "
            "deepfit never runs code from a run directory unless you say so",
            hint="if you trust that file, pass --trust-code (CLI) or trust_code=True (Python)",
        )
    if "sha256" not in recorded:
        return  # made before code was recorded: the opt-in is all there is to go on
    source = Path(recorded["file"])
    if not source.is_file():
        raise RunError(f"{where}: the code of its {key} {source} no longer exists", hint="restore the file")
    now = hashlib.sha256(source.read_bytes()).hexdigest()
    if now != recorded["sha256"]:
        raise RunError(
            f"{where}: the code of its {key} {source} has changed since the run was trained "
            f"(SHA-256 {recorded['sha256'][:12]}… then, {now[:12]}… now); the weights may not fit the new code",
            hint="restore the file as it was, or train a new run with the changed code",
        )
