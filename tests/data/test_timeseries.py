"""Forecasting data: windows by hand, splits by time without leaks, train-only scaling, cleaning, metrics, errors."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deepfit
from deepfit.config import load_config
from deepfit.data.pipeline import prepare, resolve_kind
from deepfit.data.timeseries import kind as timeseries
from deepfit.errors import ConfigError, DataError
from deepfit.evaluation import forecast
from deepfit.evaluation.forecast import forecast_report, point_metrics, smape

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def series_frame(n: int = 200, period: int = 12, seed: int = 0, noise: float = 0.05) -> pd.DataFrame:
    """Hourly points of a sine of ``period`` plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    value = 10 + np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)
    return pd.DataFrame({"time": pd.date_range("2024-01-01", periods=n, freq="h"), "value": value})


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "series.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def config(source: Path | str, **timeseries: Any) -> Any:
    return load_config({"data": {"source": str(source), "kind": "timeseries", "timeseries": timeseries}})


def test_docstring_examples_hold() -> None:
    for module in (forecast, timeseries):
        assert doctest.testmod(module).failed == 0


def test_windows_of_a_tiny_series_by_hand() -> None:
    values = np.arange(10, dtype=np.float32)[:, None]  # 0 .. 9
    starts = timeseries.window_starts(3, 2, 1, 0, 10)
    x, y = timeseries.make_windows(values, starts, 3, 2, [0])
    assert starts.tolist() == [3, 4, 5, 6, 7, 8]
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0].tolist() == [3, 4]
    assert x[-1, :, 0].tolist() == [5, 6, 7] and y[-1].tolist() == [8, 9]
    # stride 2, and a split from 6 on: the first window reads 3 4 5 (before the split) to forecast 6 7
    starts = timeseries.window_starts(3, 2, 2, 6, 10)
    x, y = timeseries.make_windows(values, starts, 3, 2, [0])
    assert starts.tolist() == [6, 8]
    assert x[0, :, 0].tolist() == [3, 4, 5] and y.tolist() == [[6, 7], [8, 9]]


def test_two_targets_are_step_major_and_named(tmp_path: Path) -> None:
    frame = series_frame(120).assign(other=lambda f: f["value"] * 2)
    prepared = prepare(config(write_csv(tmp_path, frame), lookback=6, horizon=2))
    pre, train = prepared.preprocessor, prepared.tensors["train"]
    assert pre.output_names == ["value_t+1", "other_t+1", "value_t+2", "other_t+2"]
    assert prepared.spec.input_shape == [6, 2] and prepared.spec.n_outputs == 4
    unscaled = pre.inverse_target(train.target.numpy()[:1])[0]
    assert np.allclose(unscaled, frame[["value", "other"]].to_numpy()[6:8].ravel(), atol=1e-4)


def test_time_splits_never_leak(tmp_path: Path) -> None:
    prepared = prepare(config(write_csv(tmp_path, series_frame(300)), lookback=12, horizon=3))
    frames = prepared.frames
    assert frames["train"]["target_end"].max() < frames["validation"]["target_start"].min()
    assert frames["validation"]["target_end"].max() < frames["test"]["target_start"].min()
    # validation reads its first lookback from training points: context, not a leak
    assert frames["validation"]["input_start"].min() < frames["validation"]["target_start"].min()
    assert prepared.report["splits"] == {name: len(f) for name, f in frames.items()}


def test_scaling_is_fitted_on_the_training_part_only(tmp_path: Path) -> None:
    frame = series_frame(200)
    frame.loc[150:, "value"] += 1000  # a jump in the later (validation, test) points
    prepared = prepare(config(write_csv(tmp_path, frame), lookback=6, horizon=1))
    train_points = frame["value"].to_numpy()[:140]  # 70 % of 200
    assert prepared.preprocessor.state["offset"] == pytest.approx([train_points.mean()])
    assert prepared.preprocessor.state["scale"] == pytest.approx([train_points.std()])


def test_cleaning_sorts_deduplicates_and_fills_gaps(tmp_path: Path) -> None:
    frame = series_frame(100)
    frame.loc[10, "value"] = np.nan
    frame = frame.drop(index=[20, 21])  # two missing timestamps
    frame = pd.concat([frame, frame.iloc[[30]].assign(value=99.0)])  # a repeated timestamp, at the end
    frame = frame.iloc[::-1]  # newest first
    prepared = prepare(config(write_csv(tmp_path, frame), lookback=6, horizon=1, missing="interpolate"))
    facts, notes = prepared.report["timeseries"], " | ".join(prepared.report["notes"])
    assert facts["unsorted_series"] == 1 and facts["duplicate_timestamps"] == 1
    assert facts["missing_timestamps"] == 2 and facts["missing_values"] == {"value": 1}
    assert "sorted by time" in notes and "removed 1 rows repeating a timestamp (the first kept; line " in notes
    assert "2 missing timestamps inserted and interpolated" in notes
    assert prepared.report["rows_out"] == 100


def test_missing_policies(tmp_path: Path) -> None:
    frame = pd.DataFrame({"step": range(40), "value": np.arange(40, dtype=float)})  # step: a numeric time
    frame.loc[5, "value"] = np.nan
    path = write_csv(tmp_path, frame.drop(index=[20]))
    filled = {}
    for policy in ("ffill", "interpolate", "drop"):
        prepared = prepare(config(path, time_column="step", lookback=3, horizon=1, missing=policy, season=1))
        filled[policy] = prepared.report["rows_out"]
        if policy != "drop":  # the 4-window input around step 5
            x = prepared.preprocessor.inverse_target(prepared.tensors["train"].inputs[0][3, :, 0].numpy()[:, None])
            assert x.ravel().tolist() == pytest.approx([3, 4, 4] if policy == "ffill" else [3, 4, 5])
    assert filled == {"ffill": 40, "interpolate": 40, "drop": 38}


def test_forecast_metrics_equal_hand_computation() -> None:
    t, p = np.array([100.0, 200.0, 50.0]), np.array([110.0, 180.0, 50.0])
    assert smape(t, p) == pytest.approx((20 / 210 + 40 / 380 + 0) / 3)
    metrics = point_metrics(t, p)
    assert metrics["mape"] == pytest.approx((0.1 + 0.1 + 0) / 3)
    assert metrics["mae"] == pytest.approx(10.0) and metrics["rmse"] == pytest.approx((500 / 3) ** 0.5)
    assert smape(np.zeros(2), np.zeros(2)) == 0.0


def test_baselines_are_exact_where_they_should_be() -> None:
    t = np.arange(40)
    periodic = np.tile([1.0, 3.0, 2.0, 5.0], 10)
    history = np.stack([periodic[i : i + 8] for i in range(30)])[:, :, None]
    truth = np.stack([periodic[i + 8 : i + 10] for i in range(30)])[:, :, None]
    report = forecast_report(truth, truth + 1.0, history, season=4)
    assert report["baselines"]["seasonal_naive"]["mae"] == 0.0
    assert report["baselines"]["naive"]["mae"] > 1.0
    assert report["mae"] == pytest.approx(1.0) and report["beats_naive"] and not report["beats_seasonal_naive"]
    constant = np.full((5, 4, 1), 7.0)
    flat = forecast_report(constant[:, :2], constant[:, :2], constant, season=1)
    assert flat["baselines"]["naive"]["mae"] == 0.0 and flat["baselines"]["naive"]["smape"] == 0.0
    assert forecast.infer_season([np.sin(2 * np.pi * t / 8) + 0.01 * t], max_lag=12) == 8


def test_evaluation_report_gets_the_windows_through_report_outputs(tmp_path: Path) -> None:
    from deepfit.evaluation.evaluate import report_outputs

    frame = pd.DataFrame({"time": range(120), "value": np.tile([1.0, 3.0, 2.0, 5.0], 30)})
    prepared = prepare(config(write_csv(tmp_path, frame), lookback=8, horizon=2))
    test = prepared.tensors["test"]
    report = report_outputs(test.target, test.target, prepared.spec, prepared.preprocessor, inputs=test.inputs)
    assert report["season"] == 4  # inferred from the autocorrelation
    assert report["mae"] == pytest.approx(0.0, abs=1e-5)
    assert report["baselines"]["seasonal_naive"]["mae"] == pytest.approx(0.0, abs=1e-5)
    assert report["baselines"]["naive"]["mae"] > 1.0


def test_kind_is_detected(tmp_path: Path) -> None:
    assert resolve_kind(load_config({"data": {"source": "builtin:synthetic_series"}})) == "timeseries"
    path = write_csv(tmp_path, series_frame(50))
    assert resolve_kind(load_config({"data": {"source": str(path), "timeseries": {"lookback": 5}}})) == "timeseries"
    assert resolve_kind(load_config({"data": {"source": str(path), "target": "value"}})) == "tabular"


def test_missing_time_column_suggests(tmp_path: Path) -> None:
    path = write_csv(tmp_path, series_frame(50))
    with pytest.raises(DataError, match=r"time_column: column 'tme' is not in .*series.csv \(did you mean 'time'\?\)"):
        prepare(config(path, time_column="tme"))


def test_non_numeric_value_names_its_line(tmp_path: Path) -> None:
    frame = series_frame(50).astype({"value": object})
    frame.loc[6, "value"] = "12,5"
    message = r"column 'value' of .*series.csv holds a non-numeric value \('12,5'\) at line 8\n"
    with pytest.raises(DataError, match=message):
        prepare(config(write_csv(tmp_path, frame), lookback=4))


def test_lookback_and_horizon_longer_than_the_series(tmp_path: Path) -> None:
    path = write_csv(tmp_path, series_frame(30))
    message = r"lookback \+ horizon \(24 \+ 12 = 36 points\) is longer than the series: the series has 30 points"
    with pytest.raises(DataError, match=message):
        prepare(config(path, lookback=24, horizon=12))
    with pytest.raises(ConfigError, match=r"season \(30\) is longer than the lookback \(24\)"):
        prepare(config(path, lookback=24, season=30))


def test_two_targets_are_scored_in_their_own_units_every_epoch(tmp_path: Path) -> None:
    """Per-epoch validation metrics and predictions_test.csv in the data's units, with two targets of
    different scales: the best epoch's val_mae equals eval.json's validation MAE (same weights, same data)."""
    frame = series_frame(160).assign(other=lambda f: 100 + 50 * f["value"])
    cfg = {"data": {"source": str(write_csv(tmp_path, frame)), "kind": "timeseries"}, "model": {"name": "gru"}}
    overrides = {"data.timeseries.lookback": 6, "data.timeseries.horizon": 2, "model.rnn_hidden": 8}
    fast = {"train.epochs": 4, "output.report": False, "train.diagnostics.enabled": False}
    result = deepfit.train(cfg, overrides=overrides | fast, run_dir=tmp_path / "run")
    best = next(r for r in result.history if r["epoch"] == result.best_epoch)
    assert best["val_mae"] == pytest.approx(result.metrics["validation"]["mae"], rel=1e-4)
    predictions = pd.read_csv(tmp_path / "run" / "predictions_test.csv")
    assert predictions["y_true_1"].mean() == pytest.approx(frame["other"].iloc[-30:].mean(), rel=0.05)


def test_train_predict_and_evaluate_on_raw_series(tmp_path: Path) -> None:
    """Two series in long format: a forecast per series from its last lookback points, in original units."""
    a, b = series_frame(150, seed=1), series_frame(150, seed=2)
    frame = pd.concat([a.assign(store="a"), b.assign(store="b", value=b["value"] * 3)], ignore_index=True)
    path = write_csv(tmp_path, frame)
    overrides = {"data.timeseries.series_column": "store", "data.timeseries.lookback": 12, "data.timeseries.horizon": 3}
    cfg = {"data": {"source": str(path)}, "model": {"name": "gru", "rnn_hidden": 8, "bidirectional": False}}
    fast = {"train.epochs": 15, "train.lr": 0.01, "output.report": False, "train.diagnostics.enabled": False}
    result = deepfit.train(cfg, overrides=overrides | fast, run_dir=tmp_path / "run")
    assert {"baselines", "beats_naive", "smape"} <= set(result.metrics["test"])
    predictions = deepfit.predict(result.run_dir, path)
    assert list(predictions.columns) == ["store", "forecast_from", "value_t+1", "value_t+2", "value_t+3"]
    assert predictions["store"].tolist() == ["a", "b"]
    assert predictions.loc[1, "value_t+1"] > predictions.loc[0, "value_t+1"]  # store b is three times higher
    evaluation = deepfit.evaluate(result.run_dir, path)["data"]
    assert evaluation["n_samples"] == 2 * (150 - 12 - 3 + 1)
    with pytest.raises(DataError, match=r"series 'a' of .* has 5 points; the model forecasts from the last 12"):
        deepfit.predict(result.run_dir, frame.groupby("store").tail(5))
