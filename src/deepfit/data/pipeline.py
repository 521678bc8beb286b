"""The data path of a run: ``prepare(config, frame)`` finds the data's kind and runs its steps.

Every kind (``data/registry.py``) is a ``DataKind`` (``data/kind.py``) whose ``prepare`` is one skeleton:
read → clean → split → fit on train → tensors → report → spec. A saved run's preprocessing loads with the
class of its ``kind`` (``load_preprocessor``); ``read_input`` reads raw input for prediction as that kind does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from deepfit.config import Config
from deepfit.data.kind import PreparedData, Preprocessor
from deepfit.data.registry import BUILTIN, get_kind, kind_names, preprocessor_class
from deepfit.data.sources import read_source
from deepfit.data.tabular.kind import external_splits, inspect_frame, load_frame
from deepfit.errors import ConfigError

__all__ = [
    "PreparedData",
    "external_splits",
    "inspect_frame",
    "load_frame",
    "load_preprocessor",
    "prepare",
    "read_input",
    "resolve_kind",
]


def resolve_kind(config: Config, frame: pd.DataFrame | None = None) -> str:
    """``data.kind``, or for auto: an image folder is images; a kind's detector may claim the data; else a table."""
    kind, names = config.data.kind, kind_names()
    if kind != "auto":
        if kind not in names:
            raise ConfigError(f"data.kind: {kind} data is not supported yet", hint=f"use one of: {', '.join(names)}")
        return kind
    source = config.data.source
    folder = frame is None and source and not source.startswith("builtin:") and config.resolve_path(source).is_dir()
    if folder and not any(get_kind(name).detect(config) for name in names if name not in BUILTIN):
        return "image"  # a folder is images, unless a plugin claims it
    for name in names:
        if name != "tabular" and get_kind(name).detect(config):
            return name
    return "tabular"


def prepare(config: Config, frame: pd.DataFrame | None = None, source: Preprocessor | None = None) -> PreparedData:
    """The kind's skeleton, or a table streamed from disk (data.streaming; ``deepfit.data.stream``).

    ``source``: the fitted preprocessing of model.init_from's run, reused where the kind can (docs/transfer.md).
    """
    from deepfit.data.stream.prepare import prepare_streamed, streamed_kind, streaming_reason

    reason = streaming_reason(config, frame)  # before detection: a detector may read the whole file
    if reason is not None:
        if streamed_kind(config) == "text":
            from deepfit.data.stream.text import prepare_streamed_text

            return prepare_streamed_text(config, reason)
        if streamed_kind(config) == "image":
            from deepfit.data.stream.image import prepare_streamed_image

            return prepare_streamed_image(config, reason)
        return prepare_streamed(config, reason)
    kind = get_kind(resolve_kind(config, frame))
    return kind.prepare(config, frame) if source is None else kind.prepare(config, frame, source=source)


def load_preprocessor(raw: dict[str, Any]) -> Any:
    """The saved preprocessing of a run, as the class of its data kind."""
    return preprocessor_class(raw.get("kind", "tabular")).from_dict(raw)


def read_input(preprocessor: Any, source: str | Path | pd.DataFrame) -> Any:
    """Raw input for prediction: the kind's own reader (image folder, series file) or a table."""
    if isinstance(preprocessor, Preprocessor):
        return preprocessor.read_input(source)
    reader = getattr(preprocessor, "read_input", None)  # a codec that is no data kind's (a GAN run's)
    return reader(source) if callable(reader) else read_source(source)
