"""Forecast metrics beside the two forecasts a network must beat: naive (last value) and seasonal naive.

Pure NumPy. Forecasts are arrays shaped (windows, horizon, targets) in the data's own units; a window's
history is (windows, lookback, targets), the observed values before the first forecast step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepfit.evaluation import metrics as M


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE as a fraction (0..2): mean of ``2 |p - t| / (|t| + |p|)``, 0 where both are 0.

    >>> smape(np.array([100.0, 0.0]), np.array([110.0, 0.0]))
    0.047619047619047616
    """
    t, p = np.asarray(y_true, dtype=np.float64).ravel(), np.asarray(y_pred, dtype=np.float64).ravel()
    denominator = np.abs(t) + np.abs(p)
    ratio = np.divide(2 * np.abs(p - t), denominator, out=np.zeros_like(t), where=denominator > 0)
    return float(ratio.mean())


def point_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, MSE, RMSE, MAPE, sMAPE and R², pooled over every window, horizon step and target.

    >>> point_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))["mape"]
    0.25
    """
    t, p = np.asarray(y_true, dtype=np.float64).ravel(), np.asarray(y_pred, dtype=np.float64).ravel()
    mse = float(np.mean((t - p) ** 2))
    return {
        "mae": float(np.mean(np.abs(t - p))),
        "mse": mse,
        "rmse": mse**0.5,
        "mape": M.mean_absolute_percentage_error(t, p),
        "smape": smape(t, p),
        "r2": M.r2_score(t, p),
    }


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last observed value, repeated over the horizon: (N, L, T) -> (N, H, T)."""
    return np.repeat(history[:, -1:, :], horizon, axis=1)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season before each step: step h (1-based) repeats ``y[t + h - season * ceil(h / season)]``.

    >>> history = np.arange(6, dtype=float).reshape(1, 6, 1)  # 0 1 2 3 4 5, observed up to t = 5
    >>> seasonal_naive_forecast(history, 4, 3)[0, :, 0]  # the last season 3 4 5, then again
    array([3., 4., 5., 3.])
    """
    lookback = history.shape[1]
    if season > lookback:
        raise ValueError(f"season ({season}) must be at most the lookback ({lookback})")
    steps = np.arange(1, horizon + 1)
    index = lookback - 1 + steps - season * np.ceil(steps / season).astype(int)
    return history[:, index, :]


def infer_season(series: list[np.ndarray], max_lag: int, threshold: float = 0.2) -> int:
    """The season from the autocorrelation of the differenced series (trend removed); 1 when none stands out.

    The ACF is averaged over the series (weighted by length). Peaks count only after the ACF first drops
    below zero (before that it is still the decay from lag 0); among the peaks above ``threshold``, the
    shortest lag within 90 % of the highest wins, so a daily season is not mistaken for its multiples.

    >>> t = np.arange(480)
    >>> infer_season([np.sin(2 * np.pi * t / 24) + 0.01 * t], max_lag=48)
    24
    """
    diffs = [np.diff(np.asarray(s, dtype=np.float64)) for s in series]
    diffs = [d - d.mean() for d in diffs if len(d) > 2 and d.std() > 0]
    max_lag = min(max_lag, *(len(d) // 2 for d in diffs)) if diffs else 0
    if max_lag < 2:
        return 1
    acf, weight = np.zeros(max_lag + 1), 0
    for d in diffs:
        full = np.correlate(d, d, mode="full")[len(d) - 1 : len(d) + max_lag]
        acf += full / full[0] * len(d)
        weight += len(d)
    acf /= weight
    negative = np.flatnonzero(acf < 0)
    if len(negative) == 0:
        return 1
    lags = np.arange(max(int(negative[0]) + 1, 2), max_lag + 1)
    right = np.append(acf[lags[1:]], -np.inf)  # a peak at max_lag is only compared to its left
    peaks = lags[(acf[lags] > threshold) & (acf[lags] >= acf[lags - 1]) & (acf[lags] >= right)]
    if len(peaks) == 0:
        return 1
    best = acf[peaks].max()
    return int(peaks[acf[peaks] >= 0.9 * best][0])


def forecast_report(
    truth: np.ndarray,
    pred: np.ndarray,
    history: np.ndarray | None = None,
    *,
    season: int = 1,
    target_names: list[str] | None = None,
) -> dict[str, Any]:
    """Metrics of ``pred`` and, given the windows' history, of the naive and seasonal-naive baselines.

    ``beats_naive`` / ``beats_seasonal_naive`` compare MAE. Arrays are (windows, horizon, targets).
    """
    horizon, n_targets = truth.shape[1], truth.shape[2]
    report: dict[str, Any] = point_metrics(truth, pred)
    report["n_samples"] = len(truth)
    report["horizon"] = int(horizon)
    report["mae_by_step"] = [float(np.mean(np.abs(truth[:, h] - pred[:, h]))) for h in range(horizon)]
    if n_targets > 1:
        names = target_names or [str(i) for i in range(n_targets)]
        report["per_target"] = {name: point_metrics(truth[..., k], pred[..., k]) for k, name in enumerate(names)}
    if history is None or len(truth) == 0:
        return report
    season = min(season, history.shape[1])
    baselines = {
        "naive": point_metrics(truth, naive_forecast(history, horizon)),
        "seasonal_naive": {"season": season, **point_metrics(truth, seasonal_naive_forecast(history, horizon, season))},
    }
    report["baselines"] = baselines
    report["season"] = season
    report["beats_naive"] = bool(report["mae"] < baselines["naive"]["mae"])
    report["beats_seasonal_naive"] = bool(report["mae"] < baselines["seasonal_naive"]["mae"])
    report["notes"] = baseline_lines(report)
    return report


def baseline_lines(report: dict[str, Any]) -> list[str]:
    """One line per baseline: its MAE and sMAPE beside the model's, and who wins."""
    lines = []
    for name, label in (("naive", "naive (last value)"), ("seasonal_naive", "seasonal naive")):
        base = report["baselines"][name]
        if name == "seasonal_naive":
            label += f" (season {base['season']})"
        verdict = "beats" if report[f"beats_{name}"] else "does NOT beat"
        lines.append(
            f"model MAE {report['mae']:.4g} (sMAPE {report['smape']:.2%}) {verdict} {label}: "
            f"MAE {base['mae']:.4g} (sMAPE {base['smape']:.2%})"
        )
    return lines
