"""Every data kind, registered in one place: name -> "module:Class" of its ``DataKind`` (imported when used).

Torch-free: ``deepfit.register_data_kind`` and the CLI's light commands import this module only. Kinds of
other packages are found through the ``deepfit.data_kinds`` entry-point group (``name = "module:Class"``),
so that an installed plugin is known to the ``deepfit`` command too; ``register_data_kind`` registers one
from Python. ``data.kind: auto`` asks registered plugins first, then images, text, series and sequences;
what none claims is a table.
"""

from __future__ import annotations

from typing import Any

from deepfit.registry import Registry

# name -> "module:Class" (a DataKind subclass), in the order data.kind auto asks them; tabular is the fallback
BUILTIN = ("image", "text", "timeseries", "sequence", "tabular")
ENTRY_POINTS = "deepfit.data_kinds"
KINDS: Registry[Any] = Registry(
    "data kind",
    {
        "image": "deepfit.data.image.kind:ImageKind",
        "text": "deepfit.data.text.kind:TextKind",
        "timeseries": "deepfit.data.timeseries.kind:SeriesKind",
        "sequence": "deepfit.data.sequence.kind:SequenceKind",
        "tabular": "deepfit.data.tabular.kind:TabularKind",
    },
    key="data.kind",
    entry_points=ENTRY_POINTS,
)
# saved preprocessing that is no data kind: a GAN run's decoder (``deepfit predict`` on it explains)
CODECS: Registry[Any] = Registry("saved preprocessing", {"gan": "deepfit.models.gan:GanCodec"})


def register_data_kind(name: str, kind: Any) -> None:
    """Register a data kind: ``kind`` is a DataKind subclass or its ``"package.module:Class"`` path.

    A registered kind is asked first by ``data.kind: auto`` (its ``detect``), and a saved run whose
    preprocessing says ``"kind": name`` loads with its preprocessor class.

        >>> register_data_kind("pointcloud", "my_plugin:PointCloudKind")  # doctest: +SKIP
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"The 'name' parameter of register_data_kind must be an identifier. Got {name!r} instead.")
    if not (isinstance(kind, str) and ":" in kind) and not isinstance(kind, type):
        raise ValueError(
            "The 'kind' parameter of register_data_kind must be a DataKind subclass or a 'module:Class' string. "
            f"Got {kind!r} instead."
        )
    KINDS.register(name, kind)


def kind_names() -> list[str]:
    """Every registered kind's name, plugins included, in the order ``data.kind: auto`` asks them: the latest
    registered plugin first, then the built-in kinds."""
    names = KINDS.names()
    return [n for n in reversed(names) if n not in BUILTIN] + [n for n in BUILTIN if n in names]


def get_kind(name: str) -> Any:
    """An instance of the kind registered as ``name`` (a ConfigError naming the known kinds when there is none)."""
    return KINDS.get(name)()


def preprocessor_class(name: str) -> Any:
    """The class loading a saved preprocessing whose ``kind`` is ``name``."""
    if name in CODECS:
        return CODECS.get(name)
    return get_kind(name).preprocessor


# name -> "module:function" of an image augmentation ``f(x, strength, stats) -> x`` (a batch N x C x H x W on
# the training device; ``stats`` holds the per-channel mean and std, and ``black``). The built-in ones have
# their own keys in ``data.augment`` and run in this order; a registered one runs after them, with the
# strength ``data.augment.custom`` gives it.
AUGMENTATIONS: Registry[Any] = Registry(
    "augmentation",
    {
        name: f"deepfit.data.image.augment:{name}"
        for name in ("flip", "crop", "affine", "brightness", "contrast", "cutout", "noise")
    },
    key="data.augment.custom",
    entry_points="deepfit.augmentations",
)


def register_augmentation(name: str, op: Any) -> Any:
    """Register an image augmentation ``op(x, strength, stats) -> x`` (or its ``"package.module:function"``);
    ``data.augment.custom: {name: strength}`` turns it on.

        >>> register_augmentation("invert", "my_plugin:invert")  # doctest: +SKIP
    """
    return AUGMENTATIONS.register(name, op)
