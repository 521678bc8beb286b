"""One resolver for architectures: a name maps to a builder ``f(spec, model_config) -> nn.Module`` and to the
class of its ``model:`` keys.

Builders are stored as ``"module:function"`` strings and config classes live in torch-free modules, so that
looking a name up (config validation, ``deepfit --help``, ``deepfit config show``) never imports torch. Users add
their own with :func:`register_architecture`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepfit.registry import Registry

ARCHITECTURES: Registry[Callable[..., Any]] = Registry(
    "architecture",
    {
        "auto": "deepfit.models.select:build_auto",  # resolved to a concrete name before building (select.py)
        "cnn": "deepfit.models.cnn:build_cnn",
        "custom": "deepfit.models.custom:build_custom",
        "gan": "deepfit.models.gan:build_gan",  # trained by Trainer.fit with a GanStep (deepfit.training.gan)
        "gru": "deepfit.models.rnn:build_gru",
        "lstm": "deepfit.models.rnn:build_lstm",
        "mlp": "deepfit.models.mlp:build_mlp",
        "ngram": "deepfit.models.ngram:build_ngram",
        "resnet": "deepfit.models.cnn:build_resnet",
        "rnn": "deepfit.models.rnn:build_rnn",
        "tabm": "deepfit.models.tabm:build_tabm",
        "text_rnn": "deepfit.models.text:build_text_rnn",
        "transformer": "deepfit.models.text:build_transformer",
    },
    key="model.name",
)
# name -> the class of its model keys (torch-free), imported when first used; an architecture registered without
# one has the common keys only (deepfit.config.ModelConfig). This module imports nothing of deepfit.config:
# config validation looks classes up here.
CONFIGS: Registry[Any] = Registry(
    "architecture config",
    {
        "auto": "deepfit.config.architectures:AutoModelConfig",
        "cnn": "deepfit.config.architectures:ConvConfig",
        "custom": "deepfit.config.architectures:CustomConfig",
        "gan": "deepfit.config.architectures:GANConfig",
        "gru": "deepfit.config.architectures:RNNConfig",
        "lstm": "deepfit.config.architectures:RNNConfig",
        "mlp": "deepfit.config.architectures:MLPConfig",
        "ngram": "deepfit.config.architectures:NGramConfig",
        "resnet": "deepfit.config.architectures:ConvConfig",
        "rnn": "deepfit.config.architectures:RNNConfig",
        "tabm": "deepfit.config.architectures:TabMConfig",
        "text_rnn": "deepfit.config.architectures:TextRNNConfig",
        "transformer": "deepfit.config.architectures:TransformerConfig",
    },
)


def register_architecture(name: str, builder: str | Callable[..., Any], *, config: type | None = None) -> None:
    """Register ``builder(spec, model_config) -> nn.Module`` under ``name`` (a callable or ``"pkg.mod:fn"``).

    ``config`` is the class of its ``model:`` keys, a subclass of :class:`deepfit.config.ModelConfig` whose
    ``name`` defaults to ``name``; without it the architecture has the common keys only (name, max_params,
    dropout). The builder receives an instance of it.
    """
    if config is not None and not (
        isinstance(config, type) and any(c.__name__ == "ModelConfig" for c in config.__mro__)
    ):
        raise ValueError(
            f"The config of architecture '{name}' must be a subclass of deepfit.config.ModelConfig. "
            f"Got {config!r} instead."
        )
    ARCHITECTURES.register(name, builder)
    if config is not None:
        CONFIGS.register(name, config)
    elif name in CONFIGS:  # registered again without keys of its own
        CONFIGS.unregister(name)


def architecture_names() -> list[str]:
    return sorted(ARCHITECTURES.names())


def get_builder(name: str) -> Callable[..., Any]:
    return ARCHITECTURES.get(name)


def build_model(config: Any, spec: Any) -> Any:
    """The ``nn.Module`` of architecture ``config.name``, built from the data spec and its model config."""
    return get_builder(config.name)(spec, config)


def model_config_class(name: str, strict: bool = True) -> type | None:
    """The class of ``name``'s model keys, None for an architecture registered without one (the common keys);
    an unknown name is a ConfigError (``strict``) or auto's class."""
    if name in CONFIGS:
        return CONFIGS.get(name)
    if name in ARCHITECTURES:
        return None
    if strict:
        ARCHITECTURES.get(name)  # the ConfigError naming the known architectures
    return CONFIGS.get("auto")


def size_keys(name: str, kind: str | None = None) -> tuple[str, ...]:
    """The keys that set ``name``'s size; a GAN for images is convolutional (its size is model.channels)."""
    if name == "gan" and kind == "image":
        return ("channels",)
    return CONFIGS.get(name).size_keys if name in CONFIGS else ()


def size_key(name: str) -> str:
    """The dotted key that makes this architecture bigger or smaller (``model.hidden`` for an MLP)."""
    return f"model.{(size_keys(name) or ('hidden',))[0]}"


def describe(model: dict[str, Any], kind: str | None = None) -> str:
    """``mlp hidden [256, 128]``, ``cnn channels [16, 32] blocks 2``, ``custom my_models.py:build``.

    ``kind`` is the data's: a GAN for images is convolutional (its size is model.channels).
    """
    name = model.get("name", "?")
    if name == "custom":
        return f"custom {model.get('builder', '')}".strip()
    sizes = " ".join(f"{key} {model[key]}" for key in size_keys(name, kind) if model.get(key) is not None)
    return f"{name} {sizes}".strip()
