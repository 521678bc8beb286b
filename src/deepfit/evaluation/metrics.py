"""Classification and regression metrics in pure NumPy, matching scikit-learn's definitions.

scikit-learn is the reference (the tests compare against it) but is not imported here: it takes
over a second to import, a cost every ``deepfit`` command would otherwise pay.

Classification inputs are integer class indices ``0..C-1`` and an ``[N, C]`` probability array whose
``argmax`` is the prediction. Regression inputs are ``[N]`` or ``[N, K]``; multi-output scores are the
uniform average of the per-output scores, as scikit-learn's default ``multioutput="uniform_average"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from deepfit.evaluation.registry import METRICS, MetricInfo, is_better, metric_info  # re-exported

__all__ = [
    "METRICS",
    "MetricInfo",
    "accuracy",
    "balanced_accuracy",
    "classification_report",
    "confusion_matrix",
    "is_better",
    "log_loss",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "metric_info",
    "precision_recall_f1",
    "r2_score",
    "regression_report",
    "roc_auc",
    "root_mean_squared_error",
]

# scikit-learn (>= 1.5) clips probabilities to [eps, 1 - eps] with the float64 machine epsilon.
_FLOAT64_EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------


def _check_same_length(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if len(a) != len(b):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length. Got {len(a)} and {len(b)} instead.")


def _check_not_empty(a: np.ndarray, name: str) -> None:
    # Every metric is a mean over samples, undefined (NaN plus a NumPy warning) for zero samples.
    if len(a) == 0:
        raise ValueError(f"{name} must not be empty. Got 0 samples instead.")


def _as_labels(y: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices. Got shape {arr.shape} instead.")
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    # Labels often arrive as floats (e.g. read from a CSV); accept them when they are whole numbers.
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ValueError(
        f"{name} must contain integer class indices. Got dtype {arr.dtype} with non-integer values instead."
    )


def _check_label_range(y: np.ndarray, n_classes: int, name: str) -> None:
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1. Got {n_classes} instead.")
    out_of_range = (y < 0) | (y >= n_classes)
    if out_of_range.any():
        raise ValueError(
            f"{name} must contain class indices in [0, {n_classes - 1}]. Got {y[out_of_range][0]} instead."
        )


def _label_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    _check_same_length(t, p, ("y_true", "y_pred"))
    _check_not_empty(t, "y_true")
    return t, p


def _label_proba_pair(y_true: ArrayLike, proba: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = _as_labels(y_true, "y_true")
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"proba must be a 2-D array of shape [n_samples, n_classes]. Got shape {p.shape} instead.")
    _check_same_length(t, p, ("y_true", "proba"))
    _check_not_empty(t, "y_true")
    _check_label_range(t, p.shape[1], "y_true")
    # Logits or scores passed by mistake would give silently meaningless log loss values.
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"proba must contain probabilities in [0, 1]. Got values from {p.min()} to {p.max()} instead.")
    return t, p


def _regression_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate regression targets and return both as float64 ``[N, K]`` arrays."""
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    for arr, name in ((t, "y_true"), (p, "y_pred")):
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D [n_samples] or 2-D [n_samples, n_outputs]. Got shape {arr.shape} instead."
            )
    _check_same_length(t, p, ("y_true", "y_pred"))
    _check_not_empty(t, "y_true")
    # Working in 2-D lets every metric reduce per output, then average the outputs uniformly.
    t2, p2 = t.reshape(len(t), -1), p.reshape(len(p), -1)
    if t2.shape != p2.shape:
        raise ValueError(f"y_true and y_pred must have the same shape. Got {t.shape} and {p.shape} instead.")
    return t2, p2


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # scikit-learn's zero_division=0: a ratio with an empty denominator scores 0.0 instead of NaN.
    out = np.zeros(len(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted class equals the true class.

    >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    """
    t, p = _label_pair(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """Count (true, predicted) pairs: int64 ``[n_classes, n_classes]``, rows true, columns predicted.

    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], n_classes=3)
    array([[1, 0, 0],
           [0, 0, 1],
           [0, 1, 1]])
    """
    t, p = _label_pair(y_true, y_pred)
    _check_label_range(t, n_classes, "y_true")
    _check_label_range(p, n_classes, "y_pred")
    # One bincount over the flattened (true, pred) cell index is much faster than a Python loop.
    counts = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None) -> float:
    """Mean recall over the classes present in ``y_true`` (as scikit-learn's ``balanced_accuracy_score``).

    ``n_classes`` defaults to one more than the largest index in either input.

    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 1, 1])
    0.8333333333333333
    """
    t, p = _label_pair(y_true, y_pred)
    if n_classes is None:
        n_classes = int(max(t.max(), p.max())) + 1
    cm = confusion_matrix(t, p, n_classes)
    support = cm.sum(axis=1)
    # A class absent from y_true has no recall; scikit-learn drops it rather than counting it as 0.
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _prf_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    return {
        "precision": _safe_divide(tp, predicted),
        "recall": _safe_divide(tp, support),
        # 2·tp / (2·tp + fp + fn) equals the harmonic mean of precision and recall, and is 0.0 (not NaN)
        # when both are 0, which is how scikit-learn computes it.
        "f1": _safe_divide(2 * tp, support + predicted),
        "support": support,
    }


def precision_recall_f1(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 (float64 ``[C]``) and support (int64 ``[C]``).

    A score whose denominator is zero (class never predicted / never true) is 0.0, as scikit-learn's
    ``precision_recall_fscore_support(..., zero_division=0)``.

    >>> scores = precision_recall_f1([0, 1, 2, 2], [0, 2, 2, 2], n_classes=3)
    >>> scores["precision"].round(3).tolist(), scores["recall"].tolist(), scores["support"].tolist()
    ([1.0, 0.0, 0.667], [1.0, 0.0, 1.0], [1, 1, 2])
    >>> scores["f1"].tolist()
    [1.0, 0.0, 0.8]
    """
    return _prf_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` where tied values share the mean of the ranks they span."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    run_start = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    starts = np.flatnonzero(run_start)
    ends = np.r_[starts[1:], len(x)]  # exclusive
    run_rank = (starts + 1 + ends) / 2.0  # mean of the ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = run_rank[np.cumsum(run_start) - 1]
    return ranks


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    n_pos = int(is_positive.sum())
    n_neg = len(is_positive) - n_pos
    # Mann-Whitney U: the number of (positive, negative) pairs ranked correctly, a tie counting one half.
    # This equals the trapezoidal area under the ROC curve, ties included, without building the curve.
    u = _average_ranks(score)[is_positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_auc(y_true: ArrayLike, proba: ArrayLike) -> float | None:
    """Area under the ROC curve, or ``None`` when a class is absent from ``y_true``.

    Binary (2 columns): AUC of ``proba[:, 1]``. Multiclass: the macro average of one-vs-rest AUCs, as
    scikit-learn's ``roc_auc_score(multi_class="ovr", average="macro")``. Tied scores count one half.

    >>> roc_auc([0, 0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    0.75
    >>> roc_auc([0, 0, 0], [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]) is None
    True
    """
    t, p = _label_proba_pair(y_true, proba)
    n_classes = p.shape[1]
    if n_classes < 2:
        raise ValueError(f"proba must have at least 2 columns for ROC AUC. Got {n_classes} instead.")
    # AUC compares positives with negatives: with a class absent one side is empty and AUC is undefined.
    if np.any(np.bincount(t, minlength=n_classes) == 0):
        return None
    if n_classes == 2:
        return _binary_auc(t == 1, p[:, 1])
    return float(np.mean([_binary_auc(t == c, p[:, c]) for c in range(n_classes)]))


def log_loss(y_true: ArrayLike, proba: ArrayLike, eps: float = _FLOAT64_EPS) -> float:
    """Mean negative log-likelihood of the true class (natural log).

    Probabilities are clipped to ``[eps, 1 - eps]`` so a confident mistake costs a large but finite
    loss. The default ``eps`` is the float64 machine epsilon, which is what scikit-learn >= 1.5 uses; rows
    are not renormalised (scikit-learn only warns when they do not sum to one).

    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.164252
    """
    t, p = _label_proba_pair(y_true, proba)
    p_true = np.clip(p[np.arange(len(t)), t], eps, 1 - eps)
    return float(-np.mean(np.log(p_true)))


# --------------------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------------------


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, averaged uniformly over outputs.

    >>> mean_absolute_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.5
    """
    t, p = _regression_pair(y_true, y_pred)
    return float(np.mean(np.mean(np.abs(t - p), axis=0)))


def _mse_per_output(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.mean((t - p) ** 2, axis=0)


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error, averaged uniformly over outputs.

    >>> mean_squared_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.375
    """
    return float(np.mean(_mse_per_output(*_regression_pair(y_true, y_pred))))


def root_mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error: the square root is taken per output, then outputs are averaged.

    That order is scikit-learn's, so for several outputs this is not ``sqrt(mean_squared_error)``.

    >>> root_mean_squared_error([[0.0, 0.0], [0.0, 0.0]], [[3.0, 1.0], [3.0, 1.0]])
    2.0
    """
    return float(np.mean(np.sqrt(_mse_per_output(*_regression_pair(y_true, y_pred)))))


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination, averaged uniformly over outputs.

    For a constant target (zero variance) scikit-learn scores a perfect fit 1.0 and anything else 0.0
    instead of NaN / -inf; so does this. With fewer than two samples R² is undefined and NaN is returned.

    >>> r2_score([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.9486081370449679
    >>> r2_score([2.0, 2.0], [2.0, 2.0]), r2_score([2.0, 2.0], [1.0, 2.0])
    (1.0, 0.0)
    """
    t, p = _regression_pair(y_true, y_pred)
    if len(t) < 2:
        return float("nan")
    numerator = np.sum((t - p) ** 2, axis=0)
    denominator = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    scores = np.where(numerator == 0, 1.0, 0.0)
    varying = denominator != 0
    scores[varying] = 1.0 - numerator[varying] / denominator[varying]
    return float(np.mean(scores))


def mean_absolute_percentage_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of ``|y_true - y_pred| / |y_true|`` as a fraction (0.1 means 10 %), averaged over outputs.

    As in scikit-learn, the denominator is at least the float64 machine epsilon, so a zero target gives a
    huge but finite error rather than ``inf``.

    >>> mean_absolute_percentage_error([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    0.25
    """
    t, p = _regression_pair(y_true, y_pred)
    ratio = np.abs(p - t) / np.maximum(np.abs(t), _FLOAT64_EPS)
    return float(np.mean(np.mean(ratio, axis=0)))


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


def classification_report(y_true: ArrayLike, proba: ArrayLike, class_names: list[str]) -> dict[str, Any]:
    """All classification metrics as a JSON-serialisable dict (plain floats, ints and lists).

    Macro and weighted averages run over all ``len(class_names)`` classes, like scikit-learn with
    ``labels=range(C)``; a class neither true nor predicted thus adds 0.0 to the macro averages.
    ``roc_auc`` is ``None`` when a class is absent from ``y_true``.

    >>> report = classification_report([0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]],
    ...                                ["cat", "dog"])
    >>> report["accuracy"], report["roc_auc"], report["confusion_matrix"]
    (0.75, 1.0, [[2, 0], [1, 1]])
    >>> report["per_class"]["dog"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2}
    """
    t, p = _label_proba_pair(y_true, proba)
    names = list(class_names)
    if p.shape[1] != len(names):
        raise ValueError(
            f"proba must have one column per class name. Got {p.shape[1]} columns and {len(names)} class names instead."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique. Got {names} instead.")
    n_classes = len(names)
    y_pred = p.argmax(axis=1)
    cm = confusion_matrix(t, y_pred, n_classes)
    prf = _prf_from_confusion(cm)
    support = prf["support"]
    report: dict[str, Any] = {
        "accuracy": accuracy(t, y_pred),
        "balanced_accuracy": balanced_accuracy(t, y_pred, n_classes),
    }
    for key in ("precision", "recall", "f1"):
        report[f"{key}_macro"] = float(np.mean(prf[key]))
        report[f"{key}_weighted"] = float(np.average(prf[key], weights=support))
    report["roc_auc"] = roc_auc(t, p) if n_classes >= 2 else None
    report["log_loss"] = log_loss(t, p)
    report["n_samples"] = len(t)
    report["confusion_matrix"] = cm.tolist()
    report["class_names"] = names
    report["per_class"] = {
        name: {
            "precision": float(prf["precision"][i]),
            "recall": float(prf["recall"][i]),
            "f1": float(prf["f1"][i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(names)
    }
    return report


def regression_report(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, Any]:
    """All regression metrics as a JSON-serialisable dict.

    >>> regression_report([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])["mse"]
    0.375
    """
    t, p = _regression_pair(y_true, y_pred)
    return {
        "mae": mean_absolute_error(t, p),
        "mse": mean_squared_error(t, p),
        "rmse": root_mean_squared_error(t, p),
        "r2": r2_score(t, p),
        "mape": mean_absolute_percentage_error(t, p),
        "n_samples": len(t),
    }


# --------------------------------------------------------------------------------------------------
# Registry for early stopping and model selection
# --------------------------------------------------------------------------------------------------
