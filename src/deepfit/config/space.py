"""The shape of ``tune.space``, parsed without Optuna (the config checks it on load): each entry maps a dotted
config key to one dimension, a range (``float``, ``int``) or a list of values (``choice``). The search itself
(``deepfit.tuning.space``) checks the keys against the config and turns the dimensions into Optuna calls."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepfit.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    import optuna

KINDS = ("float", "int", "choice")
_OPTIONS = {"float": ("log", "step"), "int": ("log", "step"), "choice": ()}
_PRIMITIVE = (str, int, float, bool, type(None))
# PyYAML follows YAML 1.1, where a float needs a dot: ``1e-4`` loads as the string "1e-4".
_EXPONENT = re.compile(r"^[-+]?\d+(\.\d*)?[eE][-+]?\d+$")


@dataclass(frozen=True)
class Param:
    """One dimension: a range (``float``, ``int``) or a list of values (``choice``)."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def labels(self) -> list[Any]:
        """Choices as Optuna stores them: lists and dicts become their JSON text (``"[256, 256]"``)."""
        return [c if isinstance(c, _PRIMITIVE) else json.dumps(c) for c in self.choices]

    def decode(self, stored: Any) -> Any:
        """The config value of a value Optuna stored for this dimension."""
        if self.kind != "choice":
            return stored
        return self.choices[self.labels.index(stored)]

    def suggest(self, trial: optuna.trial.Trial) -> Any:
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return self.decode(trial.suggest_categorical(self.key, self.labels))

    def grid(self) -> list[Any]:
        """Every value of the dimension, for grid search; a float range needs a ``step`` to have a grid."""
        if self.kind == "choice":
            return self.labels
        if self.step is None and self.kind == "float":
            raise ConfigError(
                f"tune.space.{self.key}: a float range has no grid",
                hint=f"add a step ({{float: [{self.low:g}, {self.high:g}], step: ...}}), use choice, "
                "or use tune.sampler: random / bayesian",
            )
        step = self.step or 1
        count = round((self.high - self.low) / step) + 1
        values = [self.low + i * step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]

    def samples(self) -> list[Any]:
        """Values that must all be valid config values: the bounds of a range, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        cast = int if self.kind == "int" else float
        return [cast(self.low), cast(self.high)]


def parse_space(raw: dict[str, Any]) -> list[Param]:
    """Parse ``tune.space``; raises ValueError naming every bad key at once."""
    params, errors = [], []
    for key, spec in raw.items():
        try:
            params.append(_parse_param(str(key), spec))
        except ValueError as exc:
            errors.append(f"{key}: {exc}")
    if errors:
        raise ValueError("; ".join(errors))
    return params


def _parse_param(key: str, spec: Any) -> Param:
    if not isinstance(spec, dict):
        raise ValueError(f"expected a mapping such as {{float: [1e-4, 1e-1], log: true}}; got {spec!r}")
    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        raise ValueError(f"give exactly one of {', '.join(KINDS)}; got {', '.join(map(str, spec)) or 'nothing'}")
    kind = kinds[0]
    allowed = _OPTIONS[kind]
    for option in spec:
        if option != kind and option not in allowed:
            known = [kind, *allowed]
            raise ValueError(f"unknown option '{option}'{did_you_mean(option, known)} for {kind}; allowed: {known}")
    if kind == "choice":
        return _parse_choice(key, _numbers(spec["choice"]))
    return _parse_range(key, kind, _numbers(spec[kind]), _numbers(spec.get("step")), bool(spec.get("log", False)))


def _parse_choice(key: str, values: Any) -> Param:
    if not isinstance(values, list) or not values:
        raise ValueError(f"choice takes a non-empty list of values; got {values!r}")
    param = Param(key, "choice", choices=tuple(values))
    labels = [json.dumps(v) if isinstance(v, _PRIMITIVE) else v for v in param.labels]
    if len(set(labels)) != len(labels):
        raise ValueError(f"choice lists a value twice: {values!r}")
    return param


def _parse_range(key: str, kind: str, bounds: Any, step: Any, log: bool) -> Param:
    number = int if kind == "int" else (int, float)
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_is(b, number) for b in bounds)):
        raise ValueError(
            f"{kind} takes [low, high] as two {'integers' if kind == 'int' else 'numbers'}; got {bounds!r}"
        )
    low, high = bounds
    if low > high:
        raise ValueError(f"low {low} is above high {high}; write [{high}, {low}]")
    if step is not None and not (_is(step, number) and step > 0):
        raise ValueError(f"step must be a positive {'integer' if kind == 'int' else 'number'}; got {step!r}")
    if log and step is not None:
        raise ValueError("log and step cannot be combined; drop one")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0; got {low}")
    if step is not None and not _whole((high - low) / step):
        below = low + math.floor((high - low) / step) * step
        raise ValueError(
            f"[{low}, {high}] is not a whole number of steps of {step}; end at {below:g} or {below + step:g}"
        )
    return Param(key, kind, float(low), float(high), None if step is None else float(step), log)


def _numbers(value: Any) -> Any:
    """``"1e-4"`` -> ``0.0001``, in lists too; other values unchanged."""
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return float(value) if isinstance(value, str) and _EXPONENT.match(value) else value


def _is(value: Any, types: type | tuple[type, ...]) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9
