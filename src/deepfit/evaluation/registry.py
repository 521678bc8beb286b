"""Metric names and the direction each improves in: what early stopping, tuning and selection need.

``METRICS`` is a :class:`deepfit.registry.Registry` of :class:`MetricInfo` (register one to monitor a metric
your own ``metrics_fn`` reports).

Kept apart from ``metrics.py`` (NumPy) so that validating a config stays import-light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deepfit.errors import did_you_mean
from deepfit.registry import Registry


@dataclass(frozen=True)
class MetricInfo:
    """Name of a scalar metric and the direction in which it improves."""

    name: str
    greater_is_better: bool


_GREATER_IS_BETTER = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "r2",
)
_LOWER_IS_BETTER = ("loss", "log_loss", "mae", "mse", "rmse", "mape")

METRICS: Registry[MetricInfo] = Registry(
    "metric",
    {
        **{name: MetricInfo(name, greater_is_better=True) for name in _GREATER_IS_BETTER},
        **{name: MetricInfo(name, greater_is_better=False) for name in _LOWER_IS_BETTER},
    },
)


def metric_info(name: str) -> MetricInfo:
    """Look up a metric by name.

    >>> metric_info("rmse")
    MetricInfo(name='rmse', greater_is_better=False)
    >>> metric_info("f1_macr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown metric 'f1_macr' (did you mean 'f1_macro'?). Known metrics: accuracy, ...
    """
    if name in METRICS:
        return METRICS.get(name)
    # a ValueError, not get's ConfigError: config validators raise it, and pydantic reports it at the key
    names = sorted(METRICS.names())
    raise ValueError(f"Unknown metric '{name}'{did_you_mean(name, names)}. Known metrics: {', '.join(names)}.")


def is_better(name: str, new: float | None, best: float | None, min_delta: float = 0.0) -> bool:
    """Whether ``new`` improves on ``best`` by more than ``min_delta`` in the metric's direction.

    >>> is_better("accuracy", 0.91, 0.90), is_better("loss", 0.5, 0.4), is_better("loss", 0.5, None)
    (True, False, True)
    >>> is_better("accuracy", 0.905, 0.90, min_delta=0.01)
    False
    """
    info = metric_info(name)
    if min_delta < 0:
        raise ValueError(f"min_delta must be non-negative. Got {min_delta} instead.")
    # An undefined score (roc_auc None, a NaN from a diverged model) never improves; stored as the best,
    # a NaN would make every later comparison False and freeze model selection.
    if new is None or math.isnan(new):
        return False
    if best is None or math.isnan(best):
        return True
    if info.greater_is_better:
        return new > best + min_delta
    return new < best - min_delta
