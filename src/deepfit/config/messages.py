"""Config errors in plain words: the file, the line, the dotted key, what was expected and what was found."""

from __future__ import annotations

import math
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from deepfit.config.base import NamedSection, is_section, members
from deepfit.config.run import Config
from deepfit.config.yaml_io import parse_yaml
from deepfit.errors import did_you_mean
from deepfit.registry import Registry

# ---------------------------------------------------------------- error messages
# pydantic errors about the kind of a value, rather than its range: reported as "expected ...; got ...".
_TYPE_ERRORS = frozenset(
    {
        *("bool_type", "bool_parsing", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"),
        *("string_type", "literal_error", "enum", "none_required", "is_instance_of"),
        *("model_type", "model_attributes_type", "dict_type", "list_type", "tuple_type"),
    }
)

Schema = tuple[Any, list[Any]]  # a type in the config and its constraints (Field(ge=...) metadata)


def validation_problems(exc: ValidationError, skip: set[str]) -> list[tuple[str, str]]:
    """One problem per dotted key: a union's failed members, which pydantic reports one by one, become one."""
    groups: dict[str, list[ErrorDetails]] = {}
    where: dict[str, tuple[list[str | int], Schema]] = {}
    for err in exc.errors():
        loc, schema = _clean_loc(err["loc"], keep_last=err["type"] == "extra_forbidden")
        dotted = ".".join(map(str, loc)) or "(top level)"
        if dotted not in skip:
            groups.setdefault(dotted, []).append(err)
            where[dotted] = loc, schema
    return [(dotted, _describe(errors, *where[dotted])) for dotted, errors in groups.items()]


def _clean_loc(loc: tuple[str | int, ...], keep_last: bool) -> tuple[list[str | int], Schema]:
    """pydantic's error location without its type tags (``float``, ``literal['auto']``, ``function-after[...]``):
    keys and list indices only; and the schema of the value found there."""
    clean: list[str | int] = []
    schema: Schema = (Config, [])
    parent = schema
    for index, part in enumerate(loc):
        if part == "[key]":  # the mapping's key itself is wrong, not its value
            schema = next(((get_args(m)[0], []) for m in members(parent[0]) if get_origin(m) is dict), schema)
            continue
        child = _child(schema, part)
        if child is not None:
            clean.append(part)
            schema, parent = child, schema
        elif keep_last and index == len(loc) - 1:  # an unknown key
            clean.append(part)
    return clean, schema


def _child(schema: Schema, part: str | int) -> Schema | None:
    """The schema under key or index ``part``; None when ``part`` is not one (pydantic's tag of a union member)."""
    for member in members(schema[0]):
        origin, args = get_origin(member), get_args(member)
        if is_section(member) and isinstance(part, str) and part in _fields(member):
            field = _fields(member)[part]
            return field.annotation, field.metadata
        if origin is list and isinstance(part, int):
            return args[0], []
        if origin is tuple and isinstance(part, int):
            return (args[0] if args[-1] is Ellipsis else args[min(part, len(args) - 1)]), []
        if origin is dict:
            return args[1], []
        if member is Any:
            return Any, []
    return None


def _fields(section: type[BaseModel]) -> dict[str, FieldInfo]:
    key_fields = getattr(section, "key_fields", None)
    return key_fields() if key_fields is not None else section.model_fields


def schema_at(parts: list[str]) -> Schema | None:
    schema: Schema | None = (Config, [])
    for part in parts:
        schema = _child(schema, part) if schema is not None else None
    return schema


def holds_keys(annotation: Any) -> bool:
    return is_section(annotation) or get_origin(annotation) is dict or annotation is Any


def is_named(annotation: Any) -> bool:
    return any(isinstance(a, type) and issubclass(a, NamedSection) for a in members(annotation))


def _describe(errors: list[ErrorDetails], loc: list[str | int], schema: Schema) -> str:
    """What is wrong at one key, in words: an unknown key, a value out of range, or a value of the wrong kind."""
    if errors[0]["type"] == "extra_forbidden":
        if "architecture" in (errors[0].get("ctx") or {}):  # the model section words its own (config/model.py)
            return errors[0]["msg"]
        known, name = _known_keys(loc[:-1]), str(loc[-1])
        homes = [key for key in _all_keys() if key.endswith(f".{name}")]  # the one section that has it, if any
        elsewhere = f" (did you mean '{homes[0]}'?)" if len(homes) == 1 else ""
        # the exact name in another section beats a near spelling here (stratify: data.split's, not strategy)
        return f"unknown key '{name}'{elsewhere or did_you_mean(name, known)}; allowed: {', '.join(known)}"
    other = next((e for e in errors if e["type"] not in _TYPE_ERRORS), None)
    if other is not None:  # the value has the right kind (one union member took it), but not a valid value
        msg, value = other["msg"].removeprefix("Value error, "), other["input"]
        said = isinstance(value, dict) or (isinstance(value, str) and repr(value) in msg)  # "unknown loss 'x'"
        return msg if said else f"{msg} (got {show_value(value)})"
    value = errors[0]["input"]
    text = f"expected {expected(*schema)}; got {show_value(value)}"
    if isinstance(value, str):
        text += did_you_mean(value, names_of(*schema))
        if type(_scalar(value)) in (int, float):
            text += " (a quoted string: write it without quotes)"
    elif isinstance(value, int | float) and str in members(schema[0]) and _registry(schema[1]) is None:
        text += " (write it in quotes)"
    return text


def names_of(annotation: Any, metadata: list[Any]) -> list[str]:
    """The names a value takes: its ``Literal``'s, or the registry's that checks it (``config/train.py``)."""
    registry = _registry(metadata)
    if registry is not None:
        return registry.names()
    return [a for m in members(annotation) if get_origin(m) is Literal for a in get_args(m)]


def _registry(metadata: list[Any]) -> Registry | None:
    return next((item for item in metadata if isinstance(item, Registry)), None)


def _scalar(text: str) -> Any:
    """What YAML reads ``text`` as when it is not quoted (``'3'`` -> 3); None if not a plain scalar."""
    try:
        value, _ = parse_yaml(text)
    except yaml.YAMLError:
        return None
    return value


_NOUNS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Any: "a value"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


def expected(annotation: Any, metadata: list[Any]) -> str:
    """What a setting takes, in words: ``a positive number or 'auto'``, ``a number in [0, 1)``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return expected(args[0], [*metadata, *args[1:]])
    if origin in (Union, UnionType):
        kinds = [expected(a, metadata) for a in args if a is not NoneType]
        return " or ".join(dict.fromkeys(kinds))
    if origin is Literal:
        return " or ".join(repr(a) for a in args) if len(args) < 3 else f"one of {', '.join(map(repr, args))}"
    if origin in (list, tuple):
        items = _PLURALS.get(args[0], "values") if get_origin(args[0]) is not Literal else "names"
        size = f"{len(args)} " if origin is tuple and args[-1] is not Ellipsis else ""
        return f"a list of {size}{items}"
    if origin is dict:
        return "a mapping"
    if is_named(annotation):
        field = annotation.model_fields["name"]
        return f"a name ({', '.join(names_of(field.annotation, field.metadata))}) or a mapping with a name"
    if is_section(annotation):
        return "a section (a mapping of keys)"
    if annotation in (int, float):
        return _bounded(annotation, metadata)
    registry = _registry(metadata)
    if registry is not None:
        return f"a registered {registry.family} ({', '.join(registry.names())})"
    return _NOUNS.get(annotation, "a valid value")


def _bounded(kind: type, metadata: list[Any]) -> str:
    """``a positive integer``, ``a number ≥ 0``, ``a number in (0, 1]``: a number and its bounds."""
    bounds: dict[str, Any] = {}
    for item in metadata:
        for constraint in item.metadata if isinstance(item, FieldInfo) else [item]:
            bounds.update({k: getattr(constraint, k) for k in ("gt", "ge", "lt", "le") if hasattr(constraint, k)})
    noun = "an integer" if kind is int else "a number"
    low, high = bounds.get("gt", bounds.get("ge")), bounds.get("lt", bounds.get("le"))
    if low is not None and high is not None:
        return f"{noun} in {'(' if 'gt' in bounds else '['}{low:g}, {high:g}{')' if 'lt' in bounds else ']'}"
    if bounds.get("gt") == 0 or (kind is int and bounds.get("ge") == 1):
        return f"a positive {noun.split()[-1]}"
    if low is not None:
        return f"{noun} {'>' if 'gt' in bounds else '≥'} {low:g}"
    if high is not None:
        return f"{noun} {'<' if 'lt' in bounds else '≤'} {high:g}"
    return noun


def show_value(value: Any) -> str:
    """A value as the user wrote it in YAML: ``true``, ``null``, ``.nan``, ``'fast'``; long ones cut."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def kind_of(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return f"{kinds.get(type(value), type(value).__name__)} ({show_value(value)})"


def format_problems(problems: list[tuple[str, str]], origin: str, lines: dict[str, int | str]) -> str:
    """``N errors in the config:`` then one line per key, ``file:line: dotted.key: what``, in file order."""
    located = [(_where(dotted, origin, lines), dotted, text) for dotted, text in problems]
    located.sort(key=lambda item: item[0][0])
    count = len(located)
    head = f"{count} error{'s' if count > 1 else ''} in the config:"
    return "\n".join([head, *(f"  - {where}: {dotted}: {text}" for (_, where), dotted, text in located)])


def _where(dotted: str, origin: str, lines: dict[str, int | str]) -> tuple[float, str]:
    """Where a key was set: ``file:line``, ``--set key``, or the origin; with a sort key (file lines first)."""
    parts = dotted.split(".")
    keys = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]  # the key, then its sections
    keys += [k for k in lines if k.startswith(f"{dotted}.")]  # a section's error: a key set inside it
    key = next((k for k in keys if k in lines), None)
    if key is None:
        return math.inf, origin
    where = lines[key]
    return (where, f"{origin}:{where}") if isinstance(where, int) else (math.inf, f"--set {key}")


def _all_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the config, sections included."""
    keys = []
    for name, field in _fields(model).items():
        keys.append(f"{prefix}{name}")
        for section in (m for m in members(field.annotation) if is_section(m)):
            keys += _all_keys(section, f"{prefix}{name}.")
    return keys


def _known_keys(loc: list[str | int]) -> list[str]:
    schema = schema_at([str(part) for part in loc])
    section = next((m for m in members(schema[0]) if is_section(m)), None) if schema else None
    return list(section.model_fields) if section else []
