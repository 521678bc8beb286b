"""Forecast baselines: the season of a trending weekly series, and the least-squares AR(p) forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfit.config import load_config
from deepfit.data.pipeline import prepare
from deepfit.evaluation import forecast
from deepfit.evaluation.forecast import autoregressive_forecast, fit_autoregressive, forecast_report, infer_season


def weekly_co2(n: int = 520, seed: int = 0, noise: float = 0.5) -> np.ndarray:
    """Ten years of weekly CO2-like values: a rising, slightly curved trend, a yearly cycle and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    trend = 315 + 0.03 * t + 2e-5 * t**2
    cycle = 3 * np.sin(2 * np.pi * t / 52.18) + np.cos(4 * np.pi * t / 52.18)  # 52.18 weeks in a year
    return trend + cycle + rng.normal(0, noise, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_weekly_series_with_a_yearly_cycle_has_season_52(seed: int) -> None:
    train = weekly_co2(seed=seed)[:364]  # the training part of a 70 / 15 / 15 split
    assert infer_season([train], max_lag=104) == 52
    # what the differenced series alone gave: the noise drowns the cycle, and seasonal naive was naive
    differenced = forecast._mean_acf([np.diff(train) - np.diff(train).mean()], 104)[0]
    assert forecast._acf_season(differenced, 0.2) != 52


@pytest.mark.parametrize("seed", range(6))
def test_a_persistent_series_without_a_season_has_none(seed: int) -> None:
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=300)
    series = np.convolve(noise, 0.9 ** np.arange(60))[60:300]  # AR(1), phi 0.9: long, slow wander
    assert infer_season([series], max_lag=104) == 1


def test_earlier_seasons_are_still_found() -> None:
    t = np.arange(3000)
    hourly = 10 * np.sin(2 * np.pi * t / 24) + 0.01 * t + np.random.default_rng(0).normal(0, 1, len(t))
    assert infer_season([hourly], max_lag=48) == 24
    assert infer_season([np.sin(2 * np.pi * t[:96] / 8) + 0.01 * t[:96]], max_lag=12) == 8
    assert infer_season([np.ones(50)], max_lag=10) == 1


def test_ar_recovers_a_known_ar2_process() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros(2000)
    for i in range(2, len(y)):
        y[i] = 1.2 * y[i - 1] - 0.5 * y[i - 2] + rng.normal(0, 0.1)
    ar = fit_autoregressive([y[:1500]], lookback=8, horizon=1)
    assert ar is not None and ar["order"] >= 2
    windows = np.lib.stride_tricks.sliding_window_view(y[1500:], 9)
    pred = autoregressive_forecast(windows[:, :8, None], ar)[:, 0, 0]
    exact = 1.2 * windows[:, 7] - 0.5 * windows[:, 6]  # the best possible one-step forecast
    assert np.abs(pred - exact).max() < 0.02


def test_ar_baseline_beside_naive_and_seasonal_naive() -> None:
    series = weekly_co2()
    lookback, horizon = 104, 4
    ar = fit_autoregressive([series[:364]], lookback, horizon)
    windows = np.lib.stride_tricks.sliding_window_view(series[364 - lookback :], lookback + horizon)
    history, truth = windows[:, :lookback, None], windows[:, lookback:, None]
    report = forecast_report(truth, truth + 0.5, history, season=52, autoregressive=[ar])
    base = report["baselines"]
    assert list(base) == ["naive", "seasonal_naive", "autoregressive"]
    assert base["autoregressive"]["order"] == ar["order"]
    assert base["autoregressive"]["mae"] < base["naive"]["mae"]  # the AR has learned the yearly cycle
    assert report["beats_autoregressive"] == (base["autoregressive"]["mae"] > 0.5)
    assert any(f"autoregressive AR({ar['order']})" in line for line in report["notes"])
    without = forecast_report(truth, truth + 0.5, history, season=52)
    assert "autoregressive" not in without["baselines"] and "beats_autoregressive" not in without


def test_a_run_fits_the_ar_on_its_training_windows_only(tmp_path: Path) -> None:
    series = weekly_co2()
    path = tmp_path / "co2.csv"
    weeks = pd.date_range("2000-01-02", periods=len(series), freq="W")
    pd.DataFrame({"week": weeks, "co2": series}).to_csv(path, index=False)
    data = {"source": str(path), "kind": "timeseries", "timeseries": {"lookback": 104, "horizon": 4}}
    prepared = prepare(load_config({"data": data}))
    state = prepared.preprocessor.state
    assert state["season"] == 52
    train_points = round(len(series) * 0.7)  # the default 70 / 15 / 15 split, by time
    assert state["autoregressive"] == [fit_autoregressive([series[:train_points]], 104, 4)]
    test = prepared.tensors["test"]
    report = prepared.preprocessor.evaluation_report(test.target, test.target, inputs=test.inputs)
    assert report["baselines"]["autoregressive"]["mae"] > 0 and report["beats_autoregressive"]
