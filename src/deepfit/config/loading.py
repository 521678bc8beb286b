"""Reading a config: YAML files (with the line of every key), dicts, ``--set`` overrides; one error for all."""

from __future__ import annotations

import math
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from deepfit.config.base import members
from deepfit.config.messages import (
    expected,
    format_problems,
    holds_keys,
    is_named,
    kind_of,
    schema_at,
    show_value,
    validation_problems,
)
from deepfit.config.model import saved_model_keys
from deepfit.config.run import Config
from deepfit.config.yaml_io import TooManyValues, parse_yaml
from deepfit.errors import ConfigError
from deepfit.models.registry import architecture_names


# ---------------------------------------------------------------- loading
def load_config(
    source: str | Path | dict[str, Any] | Config | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> Config:
    """Build a validated Config from a YAML path, a dict or a Config, then apply overrides.

    ``overrides`` are ``["train.lr=3e-4", ...]`` (values parsed as YAML) or ``{"train.lr": 3e-4}``.
    Every error is gathered into one ConfigError.
    """
    origin, base_dir = "config", Path.cwd()
    lines: dict[str, int | str] = {}
    problems: list[tuple[str, str]] = []
    if isinstance(source, Config):
        raw, base_dir = source.to_dict(), source.base_dir
    elif isinstance(source, dict):
        raw = _deep_copy(source)
    elif source is None:
        raw = {}
    else:
        path = Path(source)
        raw, lines, problems = _read_yaml(path)
        origin, base_dir = str(path), path.resolve().parent
    for key, value in parse_overrides(overrides).items():
        _set_dotted(raw, key, value)
        lines = {k: v for k, v in lines.items() if not k.startswith(f"{key}.")}
        lines[key] = "--set"
    non_finite = [(key, f"expected a finite number; got {show_value(value)}") for key, value in _non_finite(raw)]
    problems += non_finite
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += validation_problems(exc, skip={key for key, _ in non_finite})
    if problems:
        raise ConfigError(
            format_problems(problems, origin, lines),
            hint="fix the keys named; `deepfit config show` prints every key with its default",
        )
    config._base_dir = base_dir
    return config


# A config is a few kilobytes: a bigger file is a data file passed by mistake (and would take long to parse).
MAX_CONFIG_BYTES = 10 * 2**20


# An alias (*name) repeats a node without copying it, so that nine aliases of nine aliases... make a few lines
def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int | str], list[tuple[str, str]]]:
    """A config file's mapping, the line of each dotted key, and the keys it sets twice (as problems)."""
    text = _read_text(path)
    try:
        raw, layout = parse_yaml(text)
    except TooManyValues as exc:
        raise ConfigError(f"{path}: {exc}", hint="write the values out, or alias fewer times") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config", hint="a config is a few levels deep") from None
    if raw is None:  # an empty file, or comments only: every key at its default
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a config is a mapping of sections ({', '.join(Config.model_fields)}); got {kind_of(raw)}",
            hint="start a line with a section, e.g. 'train:', and indent its keys below it (see examples/)",
        )
    problems = [
        (key, f"set twice, on lines {first} and {second}; YAML would silently keep the last")
        for key, first, second in layout.duplicates
    ]
    return raw, layout.lines, problems


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            inside = sorted(str(p) for p in [*path.glob("*.yaml"), *path.glob("*.yml")])[:3]
            raise ConfigError(
                f"{path} is a directory, not a YAML config file",
                hint=f"pass a config file{' such as ' + ', '.join(inside) if inside else ''}",
            )
        info = path.stat()
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: {info.st_size / 2**20:.0f} MiB is too big for a config file",
                hint="pass the YAML config; a data file goes in its data.source",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"Config file not found: {path}", hint="check the path (it is relative to the working directory)"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file: {exc.strerror or exc}", hint="check the file's permissions"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        binary = "; it looks like a binary file" if b"\0" in data[:8192] else ""
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}{binary}",
            hint="save it as UTF-8 (a config is a YAML text file)",
        ) from None


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    """A YAML syntax error as a ConfigError naming the line."""
    where, problem = str(path), str(exc)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        where, problem = f"{path}:{exc.problem_mark.line + 1}", str(exc.problem)
        if exc.context and problem.startswith("but "):  # "expected a single document ... but found another"
            problem = f"{exc.context} {problem}"
        elif exc.context and exc.context_mark is not None:
            problem += f" ({exc.context}, from line {exc.context_mark.line + 1})"
    elif isinstance(exc, yaml.reader.ReaderError):
        where = f"{path}:{text.count(chr(10), 0, exc.position) + 1}"
        problem = f"control character #x{exc.character:04x} (a config is text)"
    hints = {
        "'\\t'": "indent with spaces: YAML does not allow tabs",
        "another document": "a config is one YAML document: remove the '---' line that starts a second one",
        "control character": "save the config as plain UTF-8 text",
    }
    hint = next((h for key, h in hints.items() if key in problem), None)
    return ConfigError(
        f"{where}: not valid YAML: {problem}", hint=hint or "check the indentation, colons, brackets and quotes there"
    )


def parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not all(key.split(".")):
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE with a dotted KEY",
                hint="for example --set train.lr=3e-4 (`deepfit config show` lists the keys)",
            )
        try:
            parsed[key] = parse_yaml(value)[0] if value.strip() else None
        except yaml.YAMLError:
            parsed[key] = value
    return parsed


def merge_overrides(
    overrides: list[str] | dict[str, Any] | None, kwargs: dict[str, Any]
) -> list[str] | dict[str, Any] | None:
    """``overrides`` and Python keyword overrides as one dict: ``train__lr=3e-4`` (``__`` for dots) or a
    section dict (``train={"lr": 3e-4}``); None or ``overrides`` unchanged when there are no keywords."""
    if not kwargs:
        return overrides
    merged: dict[str, Any] = dict(overrides) if isinstance(overrides, dict) else parse_overrides(overrides)
    for key, value in kwargs.items():
        if isinstance(value, dict) and "__" not in key:
            merged.update({f"{key}.{k}": v for k, v in flatten(value).items()})
        else:
            merged[key.replace("__", ".")] = value
    return merged


# Keys whose value is a mapping of the user's names (columns), not a section: flattened as one value.
MAPPING_KEYS = frozenset({"column_types"})


def flatten(raw: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: ``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``. An empty section and the
    mappings of ``MAPPING_KEYS`` (``data.column_types``) stay one value."""
    if not isinstance(raw, dict) or (prefix and not raw):
        return {prefix.rstrip("."): raw} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        nested = isinstance(value, dict) and key not in MAPPING_KEYS
        out.update(flatten(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value})
    return out


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1], 1):
        section = ".".join(parts[:depth])
        schema = schema_at(parts[:depth])
        child = node.get(part)
        if schema is not None and not any(holds_keys(a) for a in members(schema[0])):
            raise ConfigError(
                f"--set {key}: {section} is a single value ({expected(*schema)}), not a section of keys",
                hint=f"set it as a whole: --set {section}=VALUE",
            )
        if isinstance(child, str) and schema is not None and is_named(schema[0]):
            child = {"name": child}  # "optimizer: sgd" then --set train.optimizer.momentum=0.5
        elif child is not None and not isinstance(child, dict):
            raise ConfigError(
                f"--set {key}: {section} is {show_value(child)}, not a section of keys",
                hint=f"set it as a whole: --set {section}=VALUE",
            )
        node[part] = child = child if child is not None else {}
        node = child
    node[parts[-1]] = value


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _non_finite(value: Any, prefix: str = "", walked: set[int] | None = None) -> list[tuple[str, float]]:
    """Every NaN or infinity in a raw config, by dotted key (list items by index): no setting takes one."""
    walked = set() if walked is None else walked
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(prefix.rstrip("."), value)]
    if not isinstance(value, dict | list | tuple) or id(value) in walked:
        return []
    walked.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return [found for key, item in items for found in _non_finite(item, f"{prefix}{key}.", walked)]


def load_saved_config(raw: dict[str, Any]) -> Any:
    """A run's saved config (a checkpoint's or ``config.yaml``): model keys of other architectures are dropped."""
    model = raw.get("model")
    if isinstance(model, dict) and model.get("name") in architecture_names():  # else load_config names what is wrong
        raw = {**raw, "model": saved_model_keys(model)}
    return load_config(raw)
