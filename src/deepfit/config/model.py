"""The model section: the keys every architecture shares, and the dispatch to the chosen one's class.

Each architecture owns a config class (``deepfit.config.architectures``, or the user's, registered with its
builder by ``deepfit.models.registry.register_architecture``). ``model:`` is validated against the class of
its ``name``: a key that architecture does not have is an error naming it, with a did-you-mean. A saved run
holds only its architecture's keys; runs saved before each architecture had its own class hold every key,
and :func:`saved_model_config` reads them, dropping the keys of other architectures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationError, field_validator, model_serializer, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from deepfit.config.base import Section
from deepfit.errors import ConfigError, did_you_mean

# The keys of every architecture: what `deepfit config show` lists for model.name auto.
COMMON_KEYS = ("name", "max_params", "dropout")
_NAME = "Architecture from the registry (deepfit.models.registry); auto: chosen from the data."


def architecture_name(default: str) -> Any:
    """The ``name`` field of an architecture's class, defaulting to that architecture."""
    return Field(default, description=_NAME)


if TYPE_CHECKING:
    from pydantic._internal._model_construction import ModelMetaclass
else:
    ModelMetaclass = type(Section)  # pydantic's model metaclass (its module is private)


class _ByName(ModelMetaclass):
    """``ModelConfig(name="tabm", tabm_k=8)`` builds the class of that architecture (``TabMConfig``)."""

    def __call__(cls, *args: Any, **data: Any) -> Any:
        if cls is ModelConfig and not args:
            cls = config_class(data.get("name", "auto"), strict=False)
        return super().__call__(*args, **data)


class ModelConfig(Section, metaclass=_ByName):
    """The keys every architecture has. Subclass it for an architecture's own keys (give ``name`` a default)::

        class WideConfig(ModelConfig):
            name: str = "wide"
            width: int = Field(512, ge=1, description="Units of the one hidden layer.")

        register_architecture("wide", "my_models:build_wide", config=WideConfig)

    ``size_keys`` are the keys that make the model bigger or smaller (what a summary shows and what a
    diagnosis tells the user to change).
    """

    size_keys: ClassVar[tuple[str, ...]] = ()
    name: str = Field("auto", description=_NAME)
    max_params: int | None = Field(None, ge=1, description="model.name auto: a budget of trainable parameters.")
    dropout: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Dropout after each hidden layer (rnn, lstm, gru: between layers and before the head).",
    )
    init_from: str | None = Field(
        None,
        description="A finished run directory (relative to the working directory, as runs are written) whose "
        "weights start this model: layers matched by name and shape, its fitted input preprocessing reused where the "
        "data kinds match. Not --resume: a new run with its own optimizer, schedule and epochs (docs/transfer.md).",
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from deepfit.models.registry import architecture_names

        names = architecture_names()
        if value not in names:
            raise ValueError(f"unknown architecture '{value}'{did_you_mean(value, names)}; known: {', '.join(names)}")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _as_architecture(cls, data: Any, handler: Any) -> Any:
        """Validated as ``ModelConfig`` (the model section), ``data`` becomes its architecture's class."""
        if cls is not ModelConfig:
            return handler(data)
        if isinstance(data, ModelConfig):
            if type(data) is config_class(data.name, strict=False):
                return data
            data = {**data.model_dump(include=data.model_fields_set), "name": data.name}
        if not isinstance(data, dict):
            return handler(data)
        name = data.get("name", "auto")
        target = config_class(name, strict=False)
        if target is ModelConfig:  # an architecture registered without keys of its own
            try:
                return handler(data)
            except ValidationError as exc:
                raise _for_architecture(exc, name, target) from None
        if not (isinstance(name, str) and name in _names()):  # only the name is wrong: report it alone
            data = {k: v for k, v in data.items() if k == "name" or k in target.model_fields}
        try:
            return target.model_validate(data)
        except ValidationError as exc:
            raise _for_architecture(exc, name, target) from None

    @model_serializer(mode="wrap")
    def _without_unset_init_from(self, handler: Any) -> dict[str, Any]:
        """``init_from`` is written only when set: a run's saved config is as it was before the key existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("init_from", "") is None:
            del data["init_from"]
        return data

    @model_validator(mode="after")
    def _class_of_its_name(self) -> ModelConfig:
        target = config_class(self.name, strict=False)
        if type(self) is not target:
            raise ValueError(
                f"{type(self).__name__} is not the config of the '{self.name}' architecture ({target.__name__} is)"
            )
        return self

    @classmethod
    def key_fields(cls) -> dict[str, FieldInfo]:
        """The keys the model section can hold: every architecture's (for error messages that walk the config)."""
        if cls is not ModelConfig:
            return cls.model_fields
        fields: dict[str, FieldInfo] = {}
        for name in _names():
            for key, field in config_class(name).model_fields.items():
                fields.setdefault(key, field)
        return fields


def config_class(name: Any, strict: bool = True) -> type[ModelConfig]:
    """The config class of architecture ``name``; an unknown name is a ConfigError (``strict``) or auto's."""
    from deepfit.models.registry import model_config_class

    found = model_config_class(name if isinstance(name, str) else "", strict=strict)
    if found is None:  # registered without keys of its own
        return ModelConfig
    if not (isinstance(found, type) and issubclass(found, ModelConfig)):
        raise ConfigError(f"the config class of architecture '{name}' is not a deepfit.config.ModelConfig: {found!r}")
    return found


def _names() -> list[str]:
    from deepfit.models.registry import architecture_names

    return architecture_names()


def _for_architecture(exc: ValidationError, name: str, target: type[ModelConfig]) -> ValidationError:
    """``exc`` with each unknown key worded for the architecture (what it allows, which one has it)."""
    errors: list[InitErrorDetails] = []
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            text = unknown_key(str(err["loc"][-1]), name, target)
            kind = PydanticCustomError("extra_forbidden", "{message}", {"message": text, "architecture": name})
            errors.append({"type": kind, "loc": err["loc"], "input": err["input"]})
        else:
            errors.append({"type": err["type"], "loc": err["loc"], "input": err["input"], "ctx": err.get("ctx", {})})
    return ValidationError.from_exception_data(exc.title, errors)


def unknown_key(key: str, name: str, target: type[ModelConfig]) -> str:
    """``unknown key 'tabm_kk' for the tabm architecture (did you mean 'tabm_k'?); allowed: ...``; a key of
    another architecture says which."""
    allowed = list(target.model_fields)
    owners = [n for n in _names() if n not in ("auto", name) and key in config_class(n).model_fields]
    where = "" if name == "auto" else f" for the {name} architecture"
    also = f" (a key of {', '.join(owners)}: set model.name to use it)" if owners else ""
    return f"unknown key '{key}'{where}{did_you_mean(key, allowed) or also}; allowed: {', '.join(allowed)}"


# ---------------------------------------------------------------- saved runs
def saved_model_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """A saved run's model section with only its architecture's keys (older runs saved every key)."""
    name = raw.get("name")
    if not isinstance(name, str) or name not in _names():
        raise ConfigError(
            f"model.name: the run's architecture {name!r} is not registered",
            hint="register it (deepfit.models.registry.register_architecture) before loading the run",
        )
    target = config_class(name)
    if target.model_config.get("extra") == "allow":  # custom: every key may be the builder's
        return dict(raw)
    return {k: v for k, v in raw.items() if k in target.model_fields}


def saved_model_config(raw: dict[str, Any]) -> ModelConfig:
    """The model config of a saved run's ``meta.json`` or ``config.yaml`` (any deepfit version)."""
    keys = saved_model_keys(raw)
    return config_class(keys["name"]).model_validate(keys)
