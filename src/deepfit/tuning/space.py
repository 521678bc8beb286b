"""The search space: ``tune.space`` entries parsed, checked against the config, and turned into Optuna calls.

Each entry maps a dotted config key to one dimension::

    train.lr: {float: [1e-4, 1e-1], log: true}
    train.batch_size: {int: [16, 256], step: 16}
    model.hidden: {choice: [[128], [256, 256]]}

Parsing is pure Python (the config validates the shape of the space on load without importing Optuna);
``check_keys`` then builds a config with sample values of every dimension, so a key the config does not
have, or a bound it does not accept, is an error before any trial runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepfit.config import Config, load_config
from deepfit.config.space import Param, parse_space
from deepfit.errors import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = ["Param", "check_keys", "decode_params", "grid_space", "parse_space", "suggest_all"]


def check_keys(config: Config, params: list[Param]) -> None:
    """Build the config with each dimension's sample values; a ConfigError names every key it rejects."""
    errors = []
    for param in params:
        if param.key.split(".")[0] == "tune":
            errors.append(f"tune.space.{param.key}: the tuning settings themselves cannot be tuned")
            continue
        for value in param.samples():
            try:
                load_config(config, {param.key: value})
            except ConfigError as exc:
                errors.append(f"tune.space.{param.key}: {_rejection(exc.message, param.key, value)}")
                break
    errors += _check_architecture_keys(config, params)
    if errors:
        raise ConfigError(
            "the search space does not fit the config:\n" + "\n".join(f"  - {e}" for e in errors),
            hint="name settings by their dotted key as in `deepfit config show`, with values they accept",
        )


def _check_architecture_keys(config: Config, params: list[Param]) -> list[str]:
    """With ``model.name`` in the space, every other model key must be one that each named architecture has."""
    names = [c for p in params if p.key == "model.name" and p.kind == "choice" for c in p.choices]
    errors = []
    for param in (p for p in params if p.key.startswith("model.") and p.key != "model.name"):
        value = param.samples()[0]
        for name in names:
            try:
                load_config(config, {"model.name": name, param.key: value})
            except ConfigError as exc:
                errors.append(
                    f"tune.space.{param.key}: with model.name {name}: {_rejection(exc.message, param.key, value)}"
                )
                break
    return errors


def _rejection(message: str, key: str, value: Any) -> str:
    """The config's first error about ``--set key=value``, without the ``--set key: key:`` it starts with."""
    detail = message.split("\n", 1)[-1].strip().removeprefix("- ").removeprefix(f"--set {key}: ")
    detail = detail.removeprefix(f"{key}: ")
    return detail if detail.startswith("unknown key") else f"the value {value!r} is rejected: {detail}"


def grid_space(params: list[Param]) -> dict[str, list[Any]]:
    """The search space as GridSampler takes it: every value of every dimension."""
    return {p.key: p.grid() for p in params}


def suggest_all(trial: optuna.trial.Trial, params: list[Param]) -> dict[str, Any]:
    """Sample every dimension for a trial; returns config overrides ``{"train.lr": 0.003, ...}``."""
    return {p.key: p.suggest(trial) for p in params}


def decode_params(params: list[Param], stored: dict[str, Any]) -> dict[str, Any]:
    """A trial's stored params as config overrides (choices decoded back to lists and dicts)."""
    by_key = {p.key: p for p in params}
    return {key: by_key[key].decode(value) if key in by_key else value for key, value in stored.items()}


# ---------------------------------------------------------------- parsing one dimension
