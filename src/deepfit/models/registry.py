"""One resolver for architectures: a name maps to a builder ``f(spec, model_config) -> nn.Module``.

Builders are stored as ``"module:function"`` strings so that looking a name up (config validation,
``deepfit --help``) never imports torch. Users add their own with :func:`register_architecture`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from deepfit.errors import ConfigError, did_you_mean

_ARCHITECTURES: dict[str, str | Callable[..., Any]] = {
    "auto": "deepfit.models.select:build_auto",  # resolved to a concrete name before building (select.py)
    "cnn": "deepfit.models.cnn:build_cnn",
    "custom": "deepfit.models.custom:build_custom",
    "gan": "deepfit.models.gan:build_gan",  # trained by its own loop (deepfit.training.gan)
    "gru": "deepfit.models.rnn:build_gru",
    "lstm": "deepfit.models.rnn:build_lstm",
    "mlp": "deepfit.models.mlp:build_mlp",
    "ngram": "deepfit.models.ngram:build_ngram",
    "resnet": "deepfit.models.cnn:build_resnet",
    "rnn": "deepfit.models.rnn:build_rnn",
    "tabm": "deepfit.models.tabm:build_tabm",
    "text_rnn": "deepfit.models.text:build_text_rnn",
    "transformer": "deepfit.models.text:build_transformer",
}


def register_architecture(name: str, builder: str | Callable[..., Any]) -> None:
    """Register ``builder(spec, model_config) -> nn.Module`` under ``name`` (a callable or ``"pkg.mod:fn"``)."""
    _ARCHITECTURES[name] = builder


def architecture_names() -> list[str]:
    return sorted(_ARCHITECTURES)


def get_builder(name: str) -> Callable[..., Any]:
    if name not in _ARCHITECTURES:
        names = architecture_names()
        raise ConfigError(
            f"model.name: unknown architecture '{name}'{did_you_mean(name, names)}; known: {', '.join(names)}"
        )
    builder = _ARCHITECTURES[name]
    if isinstance(builder, str):
        module, _, attr = builder.partition(":")
        builder = getattr(importlib.import_module(module), attr)
    return builder


# name -> the model keys that set its size: what a summary shows and what a diagnosis tells a user to change
SIZE_KEYS: dict[str, tuple[str, ...]] = {
    "mlp": ("hidden",),
    "gan": ("hidden",),
    "cnn": ("channels", "blocks"),
    "resnet": ("channels", "blocks"),
    "rnn": ("rnn_hidden", "rnn_layers"),
    "lstm": ("rnn_hidden", "rnn_layers"),
    "gru": ("rnn_hidden", "rnn_layers"),
    "text_rnn": ("rnn_hidden", "rnn_layers"),
    "transformer": ("d_model", "layers"),
    "tabm": ("tabm_width", "tabm_blocks", "tabm_k"),
    "ngram": ("embedding_dim", "ngram_buckets"),
}


def size_key(name: str) -> str:
    """The dotted key that makes this architecture bigger or smaller (``model.hidden`` for an MLP)."""
    return f"model.{SIZE_KEYS.get(name, ('hidden',))[0]}"


def describe(model: dict[str, Any], kind: str | None = None) -> str:
    """``mlp hidden [256, 128]``, ``cnn channels [16, 32] blocks 2``, ``custom my_models.py:build``.

    ``kind`` is the data's: a GAN for images is convolutional (its size is model.channels).
    """
    name = model.get("name", "?")
    if name == "custom":
        return f"custom {model.get('builder', '')}".strip()
    keys = ("channels",) if name == "gan" and kind == "image" else SIZE_KEYS.get(name, ())
    sizes = " ".join(f"{key} {model[key]}" for key in keys if model.get(key) is not None)
    return f"{name} {sizes}".strip()
