"""The base of every config section: unknown keys are errors, values keep their YAML type."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    model_validator,
)


class Section(BaseModel):
    """A config section: unknown keys are errors and values keep their YAML type (``epochs: true`` is not 1).

    Strict validation still takes an integer for a float; ``_from_yaml`` turns YAML lists into the tuples it
    wants, and a section whose keys are all commented out (``train:`` alone, a null) into its defaults.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        out = {}
        for key, value in data.items():
            annotation = fields[key].annotation if key in fields else None
            if isinstance(value, list) and any(get_origin(a) is tuple for a in members(annotation)):
                value = tuple(value)
            elif value is None and any(is_section(a) for a in members(annotation)):
                value = {}
            out[key] = value
        return out

    @classmethod
    def key_fields(cls) -> dict[str, Any]:
        """Every key this section can hold, by name (the model section's depend on its architecture)."""
        return cls.model_fields


class NamedSection(Section):
    """An identifier: a name (``optimizer: sgd``) or a mapping (``optimizer: {name: sgd, momentum: 0.8}``)."""

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


def members(annotation: Any) -> tuple[Any, ...]:
    """The types a value of ``annotation`` may have: a union's members, an Annotated type's base."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return members(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return tuple(m for arg in get_args(annotation) for m in members(arg))
    return (annotation,)


def is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
