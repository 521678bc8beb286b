"""Test-split predictions saved in the run directory, so the report can plot them later.

The test rows themselves are not stored in a run, so predicted-vs-actual and residual plots cannot be
rebuilt from the model alone; ``predictions_test.csv`` keeps what they need. Reading it needs no torch.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

PREDICTIONS_TEST = "predictions_test.csv"


def write_test_predictions(
    run_dir: str | Path,
    model: Any,
    data: Any,
    batch_size: int,
    *,
    task: str,
    class_names: list[Any],
    target_scale: tuple[float, float],
) -> Path:
    """Write ``y_true``, ``y_pred`` (and ``proba_<class>`` for classification) of ``data`` in original units."""
    import pandas as pd

    from deepfit.evaluation.evaluate import predict_outputs, probabilities
    from deepfit.runs import atomic_write

    outputs = predict_outputs(model, data.inputs, batch_size)
    target = data.target.cpu().numpy()
    if task == "classification":
        names = np.asarray([str(c) for c in class_names], dtype=object)
        proba = probabilities(outputs)
        frame = pd.DataFrame({"y_true": names[target.astype(np.int64)], "y_pred": names[proba.argmax(1)]})
        for i, name in enumerate(names):
            frame[f"proba_{name}"] = proba[:, i]
    else:
        mean, std = target_scale
        y = (target.astype(np.float64) * std + mean).reshape(len(target), -1)
        pred = (outputs.cpu().numpy().astype(np.float64) * std + mean).reshape(len(target), -1)
        if y.shape[1] == 1:
            frame = pd.DataFrame({"y_true": y[:, 0], "y_pred": pred[:, 0]})
        else:  # several targets: one column pair per output, numbered
            frame = pd.DataFrame(
                {f"{kind}_{k}": arr[:, k] for k in range(y.shape[1]) for kind, arr in (("y_true", y), ("y_pred", pred))}
            )
    path = Path(run_dir) / PREDICTIONS_TEST
    # float32 tensors hold ~7 significant digits; more would print noise such as 62.99999672 for 63.
    atomic_write(path, lambda f: frame.to_csv(f, index=False, float_format="%.7g"))
    return path


def read_predictions(run_dir: str | Path) -> dict[str, list[str]] | None:
    """The columns of ``predictions_test.csv`` as lists of strings, or None when the file is absent or empty."""
    path = Path(run_dir) / PREDICTIONS_TEST
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        return None
    header, body = rows[0], rows[1:]
    return {name: [row[i] for row in body if i < len(row)] for i, name in enumerate(header)}


def regression_arrays(columns: dict[str, list[str]]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(y_true, y_pred)`` as floats for the first regression output, or None when the columns are absent."""
    for true_key, pred_key in (("y_true", "y_pred"), ("y_true_0", "y_pred_0")):
        if true_key in columns and pred_key in columns:
            try:
                return np.asarray(columns[true_key], dtype=float), np.asarray(columns[pred_key], dtype=float)
            except ValueError:  # class names in a regression slot: not a regression file
                return None
    return None
