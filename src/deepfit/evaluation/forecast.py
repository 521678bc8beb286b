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
    """The season from the autocorrelation of the series with its trend removed; 1 when none stands out.

    The trend is removed two ways. A straight line fitted to each series keeps a season that differencing
    drowns in noise (a weekly series with a yearly cycle: differencing keeps ~12 % of the seasonal swing and
    adds √2 of the noise); its peak counts when it clears twice its standard error (Bartlett's formula), since
    the slow wander of a persistent series ripples in its autocorrelation too. Otherwise the differenced series
    decides. The ACF is averaged over the series (weighted by length); peaks count only after it first drops
    below zero (before that it is still the decay from lag 0), and among the peaks above ``threshold`` the
    shortest lag within 90 % of the highest wins, so a daily season is not mistaken for its multiples.

    >>> t = np.arange(480)
    >>> infer_season([np.sin(2 * np.pi * t / 24) + 0.01 * t], max_lag=48)
    24
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in series]
    detrended = [_detrend(s) for s in arrays if len(s) > 3]
    acf, n = _mean_acf(detrended, max_lag)
    season = _acf_season(acf, threshold)
    if season > 1 and acf[season] >= 2 * np.sqrt((1 + 2 * np.sum(acf[1:season] ** 2)) / n):
        return season
    diffs = [np.diff(s) for s in arrays]
    return _acf_season(_mean_acf([d - d.mean() for d in diffs if len(d) > 2], max_lag)[0], threshold)


def _detrend(values: np.ndarray) -> np.ndarray:
    """The residual of a least-squares straight line."""
    t = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(t, values, 1)
    return values - (slope * t + intercept)


def _mean_acf(series: list[np.ndarray], max_lag: int) -> tuple[np.ndarray, int]:
    """The autocorrelation at lags 0..max_lag (bounded by half the shortest series), averaged over the series
    weighted by length, and their total length; an empty array when no series varies."""
    series = [s for s in series if s.std() > 0]
    max_lag = min(max_lag, *(len(s) // 2 for s in series)) if series else 0
    if max_lag < 2:
        return np.zeros(0), 0
    acf, weight = np.zeros(max_lag + 1), 0
    for s in series:
        full = np.correlate(s, s, mode="full")[len(s) - 1 : len(s) + max_lag]
        acf += full / full[0] * len(s)
        weight += len(s)
    return acf / weight, weight


def _acf_season(acf: np.ndarray, threshold: float) -> int:
    negative = np.flatnonzero(acf < 0)
    if len(negative) == 0:
        return 1
    max_lag = len(acf) - 1
    lags = np.arange(max(int(negative[0]) + 1, 2), max_lag + 1)
    if len(lags) == 0:
        return 1
    right = np.append(acf[lags[1:]], -np.inf)  # a peak at max_lag is only compared to its left
    peaks = lags[(acf[lags] > threshold) & (acf[lags] >= acf[lags - 1]) & (acf[lags] >= right)]
    if len(peaks) == 0:
        return 1
    best = acf[peaks].max()
    return _vertex(acf, int(peaks[acf[peaks] >= 0.9 * best][0]))


def _vertex(acf: np.ndarray, peak: int) -> int:
    """The peak's lag, refined by a parabola through the ACF within an eighth of it either side: noise moves
    the highest lag of a flat top by one or two (a season of 52.18 weeks then reads 51 or 53)."""
    width = max(1, peak // 8)
    lags = np.arange(max(peak - width, 1), min(peak + width, len(acf) - 1) + 1)
    if len(lags) < 3:
        return peak
    a, b, _ = np.polyfit(lags, acf[lags], 2)
    vertex = -b / (2 * a) if a < 0 else peak
    return round(vertex) if abs(vertex - peak) <= width else peak


def fit_autoregressive(series: list[np.ndarray], lookback: int, horizon: int) -> dict[str, Any] | None:
    """A least-squares AR(p) forecast fitted on the training windows of ``series`` (one target each).

    Each horizon step h has its own coefficients (a direct forecast): ``y[t+h] = c_h + Σ_i a_hi y[t-i]``
    for i < p, by least squares over every training window. The order p is chosen from 1, 2, 4, ... and the
    lookback on the last fifth of the windows (the rest fitting it), then refitted on all; at least 5 windows
    per coefficient. None when the series give too few windows.

    >>> t = np.arange(200.0)
    >>> ar = fit_autoregressive([np.sin(2 * np.pi * t / 10)], lookback=20, horizon=3)
    >>> history = np.sin(2 * np.pi * np.arange(180.0, 200.0) / 10).reshape(1, 20, 1)
    >>> np.round(autoregressive_forecast(history, ar)[0, :, 0], 3)  # the next three values of the sine
    array([0.   , 0.588, 0.951])
    """
    windows = [
        np.lib.stride_tricks.sliding_window_view(np.asarray(s, dtype=np.float64), lookback + horizon)
        for s in series
        if len(s) >= lookback + horizon
    ]
    if not windows:
        return None
    data = np.concatenate(windows)
    x, y = data[:, :lookback], data[:, lookback:]
    orders = [p for p in (2**k for k in range(12)) if p < lookback and 5 * (p + 1) <= 0.8 * len(x)] + [lookback]
    orders = [p for p in orders if 5 * (p + 1) <= 0.8 * len(x)]
    if not orders:
        return None
    cut = int(0.8 * len(x))
    errors = [np.mean(np.abs(_ar_predict(x[cut:], _ar_fit(x[:cut], y[:cut], p)) - y[cut:])) for p in orders]
    order = orders[int(np.argmin(errors))]
    return {"order": order, "coef": _ar_fit(x, y, order).tolist()}


def _ar_design(x: np.ndarray, order: int) -> np.ndarray:
    last = x[:, -1:]  # the origin: the other lags enter as differences from it, which keeps lstsq well conditioned
    return np.hstack([np.ones((len(x), 1)), last, x[:, -order:-1] - last])


def _ar_fit(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(_ar_design(x, order), y - x[:, -1:], rcond=None)
    return coef  # (order + 1, horizon)


def _ar_predict(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    return x[:, -1:] + _ar_design(x, len(coef) - 1) @ coef


def autoregressive_forecast(history: np.ndarray, ar: dict[str, Any] | list[dict[str, Any]]) -> np.ndarray:
    """The AR forecast of each window: (N, L, T) -> (N, H, T); ``ar`` is one fit per target, or one for all."""
    fits = ar if isinstance(ar, list) else [ar] * history.shape[2]
    coefs = [np.asarray(f["coef"], dtype=np.float64) for f in fits]
    return np.stack([_ar_predict(history[:, :, k], coef) for k, coef in enumerate(coefs)], axis=2)


def forecast_report(
    truth: np.ndarray,
    pred: np.ndarray,
    history: np.ndarray | None = None,
    *,
    season: int = 1,
    target_names: list[str] | None = None,
    autoregressive: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics of ``pred`` and, given the windows' history, of the naive and seasonal-naive baselines, and of
    the AR baseline when ``autoregressive`` holds its fit (one per target, :func:`fit_autoregressive`).

    ``beats_naive`` / ``beats_seasonal_naive`` / ``beats_autoregressive`` compare MAE. Arrays are (windows,
    horizon, targets).
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
    baselines: dict[str, dict[str, Any]] = {
        "naive": point_metrics(truth, naive_forecast(history, horizon)),
        "seasonal_naive": {"season": season, **point_metrics(truth, seasonal_naive_forecast(history, horizon, season))},
    }
    usable = autoregressive is not None and len(autoregressive) == n_targets and all(autoregressive)
    if (
        autoregressive is not None
        and usable
        and all(len(f["coef"][0]) == horizon and f["order"] <= history.shape[1] for f in autoregressive)
    ):
        forecast = autoregressive_forecast(history, autoregressive)
        orders = sorted({f["order"] for f in autoregressive})
        baselines["autoregressive"] = {
            "order": orders[0] if len(orders) == 1 else orders,
            **point_metrics(truth, forecast),
        }
    report["baselines"] = baselines
    report["season"] = season
    for name in baselines:
        report[f"beats_{name}"] = bool(report["mae"] < baselines[name]["mae"])
    report["notes"] = baseline_lines(report)
    return report


def baseline_lines(report: dict[str, Any]) -> list[str]:
    """One line per baseline: its MAE and sMAPE beside the model's, and who wins."""
    lines = []
    for name, base in report["baselines"].items():
        label = baseline_label(name, base)
        verdict = "beats" if report[f"beats_{name}"] else "does NOT beat"
        lines.append(
            f"model MAE {report['mae']:.4g} (sMAPE {report['smape']:.2%}) {verdict} {label}: "
            f"MAE {base['mae']:.4g} (sMAPE {base['smape']:.2%})"
        )
    return lines


def baseline_label(name: str, base: dict[str, Any]) -> str:
    """``naive (last value)``, ``seasonal naive (season 24)``, ``autoregressive AR(8)``."""
    if name == "seasonal_naive":
        return f"seasonal naive (season {base.get('season', '?')})"
    if name == "autoregressive":
        return f"autoregressive AR({base.get('order', '?')})"
    return {"naive": "naive (last value)"}.get(name, name.replace("_", " "))
