"""deepfit: from a dataset on disk to a trained, evaluated, reusable deep-learning model.

    >>> import deepfit
    >>> result = deepfit.train("examples/iris.yaml", train__epochs=5)   # doctest: +SKIP
    >>> deepfit.load(result.run_dir).predict(frame)                     # doctest: +SKIP

Heavy modules (torch, pandas) load on first use, so ``import deepfit`` and the CLI start fast.
"""

from __future__ import annotations

from typing import Any

from deepfit.errors import ConfigError, DataError, DeepfitError, RunError, TrainingError

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "DataError",
    "DeepfitError",
    "RunError",
    "Trainer",
    "TrainingError",
    "evaluate",
    "inspect",
    "load",
    "load_config",
    "predict",
    "register_augmentation",
    "register_data_kind",
    "register_loss",
    "register_optimizer",
    "register_schedule",
    "train",
    "tune",
]

_LAZY = {
    "train": "deepfit.api",
    "evaluate": "deepfit.api",
    "predict": "deepfit.api",
    "inspect": "deepfit.api",
    "load": "deepfit.api",
    "load_config": "deepfit.config",
    "Trainer": "deepfit.training.trainer",
    "tune": "deepfit.tuning",
    "register_augmentation": "deepfit.data.registry",
    "register_data_kind": "deepfit.data.registry",
    "register_optimizer": "deepfit.training.registry",
    "register_schedule": "deepfit.training.registry",
    "register_loss": "deepfit.training.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepfit' has no attribute '{name}'")
