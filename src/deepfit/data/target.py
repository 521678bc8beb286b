"""The one target encoder of every data kind: class labels <-> codes, regression values <-> standard scores.

Its state lives in the preprocessor's ``state`` dict under the keys saved runs already hold: ``task`` and
``classes`` (classification, sorted numbers first then strings), or ``target_mean`` and ``target_std``
(regression; 0 and 1 without ``data.preprocess.target_scaling``). Labels are compared as text, so 3 and "3"
read from different files agree.

    >>> state = fit_target(["b", "a", "b"], "classification")
    >>> state["classes"]
    ['a', 'b']
    >>> codes, known = TargetEncoder({"task": "classification", **state}).encode(["b", "c"])
    >>> codes.tolist(), known.tolist()
    ([1], [True, False])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import torch


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (JSON-safe)."""
    return value.item() if hasattr(value, "item") else value


def fit_target(values: Iterable[Any], task: str, *, scaling: bool = True) -> dict[str, Any]:
    """The encoder's state fitted on the training labels: ``classes``, or ``target_mean`` and ``target_std``."""
    series = pd.Series(list(values))
    if task == "classification":
        classes = sorted(pd.unique(series), key=lambda v: (isinstance(v, str), v))
        return {"classes": [plain(v) for v in classes]}
    y = pd.to_numeric(series).to_numpy(dtype=float)
    mean, std = (float(y.mean()), float(y.std()) or 1.0) if scaling and len(y) else (0.0, 1.0)
    return {"target_mean": mean, "target_std": std}


class TargetEncoder:
    """Encode and decode targets with a fitted state (a view of the preprocessor's ``state``)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @property
    def classes(self) -> list[Any]:
        return self.state.get("classes", [])

    def encode(self, values: Iterable[Any]) -> tuple[torch.Tensor, np.ndarray]:
        """Target tensor and a boolean mask of the rows it covers: rows of classes unseen in train are left out.

        Classification: int64 codes (N,); regression: float32 standard scores (N, 1), every row kept; a 2-D
        array of several regression outputs (N, k) is scaled per column (``target_mean``/``target_std`` lists).
        """
        if isinstance(values, np.ndarray) and values.ndim == 2:
            scores = (values.astype(np.float64) - self._mean()) / self._std()
            return torch.from_numpy(scores.astype(np.float32)), np.ones(len(values), dtype=bool)
        series = pd.Series(list(values), dtype=object)
        if self.state["task"] == "classification":
            index = {str(c): i for i, c in enumerate(self.classes)}
            codes = np.array([index.get(str(plain(v)), -1) for v in series], dtype=np.int64)
            known = codes >= 0
            return torch.as_tensor(codes[known], dtype=torch.int64), known
        y = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        y = (y - self.state.get("target_mean", 0.0)) / self.state.get("target_std", 1.0)
        return torch.as_tensor(y, dtype=torch.float32)[:, None], np.ones(len(y), dtype=bool)

    def decode(self, y: np.ndarray) -> np.ndarray:
        """Standardised regression outputs back in the target's units."""
        return y * self._std() + self._mean()

    def _mean(self) -> np.ndarray:
        return np.asarray(self.state.get("target_mean", 0.0))

    def _std(self) -> np.ndarray:
        return np.asarray(self.state.get("target_std", 1.0))
