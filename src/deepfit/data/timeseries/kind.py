"""Forecasting data: a table of one or more time series cut into (lookback → horizon) windows.

read → columns (time, series, values, targets) → per series: sort, de-duplicate, fill → split by time
(train first, then validation, then test, on each series) → scaling fitted on the training part only →
windows. A window belongs to the split that holds all of its target points; a window whose targets
would cross a split boundary is not made. Validation and test windows read their lookback from the
points before them, training points included: those are observed before the forecast, so not a leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view

from deepfit.config import Config, SplitConfig, TimeSeriesConfig
from deepfit.data.batches import TensorData
from deepfit.data.kind import DataKind, Preprocessor
from deepfit.data.spec import DataSpec
from deepfit.data.tabular.kind import load_frame
from deepfit.data.tabular.preprocess import column_scaling
from deepfit.data.timeseries.clean import SeriesLayout, require_column, resolve_layout, source_name, split_series, where
from deepfit.errors import ConfigError, DataError
from deepfit.evaluation.forecast import fit_autoregressive, forecast_report, infer_season

SPLITS = ("train", "validation", "test")


def looks_like_timeseries(config: Config) -> bool:
    """``data.kind: auto`` means forecasting when a ``data.timeseries`` key is set, or for the synthetic series."""
    data = config.data
    return data.timeseries != TimeSeriesConfig() or data.source == "builtin:synthetic_series"


def split_bounds(n: int, split: SplitConfig) -> tuple[int, int]:
    """Where validation and test begin in a series of ``n`` points (rounded; train takes the rest)."""
    validation, test = (int(np.floor(f * n + 0.5)) for f in (split.validation, split.test))
    return n - validation - test, n - test


def window_starts(lookback: int, horizon: int, stride: int, lo: int, hi: int) -> np.ndarray:
    """Positions of the first target point of the windows whose targets all lie in ``[lo, hi)``.

    >>> window_starts(3, 2, 1, 0, 7).tolist()  # inputs [t-3, t), targets [t, t+2)
    [3, 4, 5]
    """
    return np.arange(max(lo, lookback), hi - horizon + 1, stride)


def make_windows(values: np.ndarray, starts: np.ndarray, lookback: int, horizon: int, targets: list[int]) -> tuple:
    """Inputs (N, lookback, features) and targets (N, horizon * len(targets)), step-major."""
    view = sliding_window_view(values, lookback + horizon, axis=0)  # (n - L - H + 1, features, L + H), no copy
    windows = view[starts - lookback].transpose(0, 2, 1)
    x = np.ascontiguousarray(windows[:, :lookback])
    y = windows[:, lookback:][:, :, targets].reshape(len(starts), -1)
    return x, np.ascontiguousarray(y)


class SeriesPreprocessor(Preprocessor):
    """Column scaling fitted on the training part of the series; windows in, forecasts out in original units."""

    kind = "timeseries"

    def __init__(self, config: TimeSeriesConfig | None = None, scaling: str = "standard") -> None:
        super().__init__()
        self.config, self.scaling = config or TimeSeriesConfig(), scaling

    def fit(self, train_parts: list[np.ndarray], layout: SeriesLayout, season: int) -> SeriesPreprocessor:
        values = np.concatenate(train_parts)
        offset, scale = column_scaling(values, self.scaling)
        c = self.config
        self.state = {
            "task": "regression",
            "target": ", ".join(layout.targets),
            "time_column": layout.time,
            "series_column": layout.series,
            "value_columns": layout.values,
            "target_columns": layout.targets,
            "target_index": [layout.values.index(t) for t in layout.targets],
            "lookback": c.lookback,
            "horizon": c.horizon,
            "stride": c.stride,
            "missing": c.missing,
            "season": int(season),
            "offset": offset.tolist(),
            "scale": scale.tolist(),
            # the AR baseline of the report, one fit per target on the training windows (original units)
            "autoregressive": [
                fit_autoregressive([part[:, i] for part in train_parts], c.lookback, c.horizon)
                for i in (layout.values.index(t) for t in layout.targets)
            ],
        }
        # per-epoch metrics and predictions_test.csv in the targets' units: outputs are (horizon x targets),
        # step-major, so each output column takes its target's offset and scale
        index = self.state["target_index"]
        if len(index) == 1:
            self.state["target_mean"], self.state["target_std"] = float(offset[index[0]]), float(scale[index[0]])
        else:
            self.state["target_mean"] = np.tile(offset[index], c.horizon).tolist()
            self.state["target_std"] = np.tile(scale[index], c.horizon).tolist()
        return self

    @property
    def layout(self) -> SeriesLayout:
        s = self.state
        return SeriesLayout(s["time_column"], s["series_column"], s["value_columns"], s["target_columns"])

    @property
    def output_names(self) -> list[str]:
        """``value_t+1, value_t+2, ...``: the horizon's steps, each with every target column."""
        return [f"{c}_t+{h}" for h in range(1, self.state["horizon"] + 1) for c in self.state["target_columns"]]

    def scale(self, values: np.ndarray) -> np.ndarray:
        return ((values - np.asarray(self.state["offset"])) / np.asarray(self.state["scale"])).astype(np.float32)

    def windows(self, scaled: np.ndarray, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, ...]:
        """``(starts, x, y)`` of the windows whose targets lie in ``[lo, hi)`` of one series' scaled values."""
        s = self.state
        starts = window_starts(s["lookback"], s["horizon"], s["stride"], lo, len(scaled) if hi is None else hi)
        if len(starts) == 0:
            return starts, np.empty((0, s["lookback"], scaled.shape[1])), np.empty((0, 0))
        return starts, *make_windows(scaled, starts, s["lookback"], s["horizon"], s["target_index"])

    def series(self, raw: Any, source: str) -> list[tuple[Any, pd.DataFrame]]:
        """The clean series of raw input, cleaned by the training rules."""
        if not isinstance(raw, pd.DataFrame):
            raise DataError(f"{source}: a forecast reads a table of the series (CSV, Parquet or a DataFrame)")
        layout = self.layout
        for key, column in (("time_column", layout.time), ("series_column", layout.series)):
            if column is not None:
                require_column(raw, column, f"the model's {key}", source)
        for column in layout.values:
            require_column(raw, column, "the model's value columns", source)
        return split_series(raw, layout, self.state["missing"], source)[0]

    def transform(self, raw: Any, source: str = "the data") -> tuple[torch.Tensor, ...]:
        """``(x,)``: the last ``lookback`` points of each series, scaled, (series, lookback, values)."""
        lookback, windows = self.state["lookback"], []
        for key, part in self.series(raw, source):
            if len(part) < lookback:
                name = "the series" if key is None else f"series {key!r}"
                raise DataError(
                    f"{name} of {source} has {len(part)} points; the model forecasts from the last {lookback}",
                    hint="give at least data.timeseries.lookback points of each series",
                )
            windows.append(self.scale(part[self.state["value_columns"]].to_numpy()[-lookback:]))
        return (torch.from_numpy(np.stack(windows)),)

    def prediction_columns(self, raw: Any) -> pd.DataFrame:
        """Which series each forecast is for, and the last timestamp it was made from."""
        columns: dict[str, list[Any]] = {}
        time, series_column = self.state["time_column"], self.state["series_column"]
        for key, part in self.series(raw, source_name(raw, "the input")):
            if series_column is not None:
                columns.setdefault(series_column, []).append(key)
            if time is not None:
                columns.setdefault("forecast_from", []).append(part[time].iloc[-1])
        return pd.DataFrame(columns)

    def labelled(self, raw: Any, source: str = "the data") -> tuple[TensorData, int]:
        """Every window of the input series, for ``deepfit evaluate RUN --data series.csv``."""
        s = self.state
        xs, ys = [], []
        for _, part in self.series(raw, source):
            starts, x, y = self.windows(self.scale(part[s["value_columns"]].to_numpy()))
            if len(starts):
                xs.append(x)
                ys.append(y)
        if not xs:
            raise DataError(
                f"no series of {source} is long enough for one window of {s['lookback']} + {s['horizon']} points"
            )
        return TensorData((torch.from_numpy(np.concatenate(xs)),), torch.from_numpy(np.concatenate(ys))), 0

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        """Forecasts (N, horizon * targets), scaled, back in the target columns' units."""
        index = self.state["target_index"]
        offset, scale = np.asarray(self.state["offset"])[index], np.asarray(self.state["scale"])[index]
        shaped = np.asarray(y, dtype=np.float64).reshape(len(y), -1, len(index))
        return (shaped * scale + offset).reshape(len(y), -1)

    def evaluation_report(
        self, outputs: torch.Tensor, target: torch.Tensor, inputs: tuple[torch.Tensor, ...] | None = None
    ) -> dict[str, Any]:
        """MAE, RMSE, MAPE, sMAPE, R² in original units; with the windows' inputs, the naive baselines too."""
        s = self.state
        shape = (-1, s["horizon"], len(s["target_columns"]))
        pred = self.inverse_target(outputs.cpu().numpy()).reshape(shape)
        truth = self.inverse_target(target.cpu().numpy()).reshape(shape)
        history = None
        if inputs is not None:
            index = s["target_index"]
            scaled = inputs[0].cpu().numpy().astype(np.float64)[:, :, index]
            history = scaled * np.asarray(s["scale"])[index] + np.asarray(s["offset"])[index]
        return forecast_report(
            truth,
            pred,
            history,
            season=s["season"],
            target_names=s["target_columns"],
            autoregressive=s.get("autoregressive"),
        )

    def reuse_problem(self, source: Preprocessor) -> str | None:
        return "series are scaled per run (a forecast model sees its own data's scale)"

    def settings(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(), "scaling": self.scaling}

    @classmethod
    def from_settings(cls, raw: dict[str, Any]) -> SeriesPreprocessor:
        return cls(TimeSeriesConfig(**raw["config"]), raw["scaling"])


# ---------------------------------------------------------------- the data path
@dataclass
class Piece:
    """One series' share of a split: its rows, its values (original units), how far fitting may read
    (``end``: the split's last point) and the first target point of each of its windows."""

    key: Any
    rows: pd.DataFrame
    values: np.ndarray
    end: int
    starts: np.ndarray


class SeriesKind(DataKind[SeriesPreprocessor]):
    """Forecasting windows on the one skeleton: a part is a list of :class:`Piece` (one per series), a row is a
    window, and its label the horizon's values (several outputs, scaled per column by the one target encoder)."""

    name = "timeseries"
    preprocessor = SeriesPreprocessor
    section = "timeseries"

    def detect(self, config: Config) -> bool:
        return looks_like_timeseries(config)

    def read(self, config: Config, frame: pd.DataFrame | None) -> pd.DataFrame:
        return load_frame(config, frame)

    def clean(self, config: Config, raw: pd.DataFrame) -> tuple[list[tuple[Any, pd.DataFrame]], dict[str, Any]]:
        """Per series: sort, de-duplicate timestamps, fill; series shorter than one window are skipped."""
        ts = self.ts = _series_config(config)
        source = source_name(raw)
        self.layout = resolve_layout(raw, ts, source)
        series, self.facts = split_series(raw, self.layout, ts.missing, source)
        series, self.short = _long_enough(series, ts)
        self.raw = raw
        return series, {"task": "regression", "target": ", ".join(self.layout.targets)}

    def split(self, config: Config, cleaned: Any, report: dict[str, Any]) -> dict[str, list[Piece]]:
        """By time on each series (train, then validation, then test); a window goes where its targets lie."""
        ts, values = self.ts, self.layout.values
        self.bounds = [split_bounds(len(rows), config.data.split) for _, rows in cleaned]
        self.series = cleaned
        parts: dict[str, list[Piece]] = {name: [] for name in SPLITS}
        for (key, rows), (a, b) in zip(cleaned, self.bounds, strict=True):
            array = rows[values].to_numpy()
            for name, lo, hi in zip(SPLITS, (0, a, b), (a, b, len(rows)), strict=True):
                starts = window_starts(ts.lookback, ts.horizon, ts.stride, lo, hi)
                parts[name].append(Piece(key, rows, array, hi, starts))
        if not self.size(parts["train"]):
            raise DataError(
                f"the training part of every series is shorter than lookback + horizon ({ts.lookback} + {ts.horizon})",
                hint="raise data.split.train, or lower data.timeseries.lookback or horizon",
            )
        return parts

    def fit(self, config: Config, train: list[Piece], report: dict[str, Any]) -> SeriesPreprocessor:
        """Scaling (and the AR baseline, the season) fitted on the training points of every series."""
        points = [piece.values[: piece.end] for piece in train]
        first = self.layout.values.index(self.layout.targets[0])
        season = _season(self.ts, [part[:, first] for part in points])
        return SeriesPreprocessor(self.ts, config.data.preprocess.scaling).fit(points, self.layout, season)

    def labels(self, part: list[Piece], target: str) -> np.ndarray:
        """The windows' targets in original units, (windows, horizon x targets), step-major."""
        ts, index = self.ts, [self.layout.values.index(t) for t in self.layout.targets]
        return np.concatenate(
            [make_windows(p.values, p.starts, ts.lookback, ts.horizon, index)[1] for p in part if len(p.starts)]
        )

    def take(self, part: list[Piece], mask: np.ndarray) -> list[Piece]:
        return part  # a forecast has no class to drop: every window is kept

    def size(self, part: list[Piece]) -> int:
        return sum(len(piece.starts) for piece in part)

    def inputs(self, pre: SeriesPreprocessor, part: list[Piece], source: str) -> tuple[torch.Tensor, ...]:
        s = pre.state
        x = [
            make_windows(pre.scale(p.values), p.starts, s["lookback"], s["horizon"], s["target_index"])[0]
            for p in part
            if len(p.starts)
        ]
        return (torch.from_numpy(np.concatenate(x)),)

    def frame(self, part: list[Piece]) -> pd.DataFrame:
        """One row per window: its series and the times of its first input, first target and last target."""
        frames = [_window_frame(p.key, p.rows, p.starts, self.layout, self.ts) for p in part if len(p.starts)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def finish_report(
        self,
        config: Config,
        report: dict[str, Any],
        pre: SeriesPreprocessor,
        tensors: dict[str, TensorData],
        frames: dict[str, pd.DataFrame],
    ) -> None:
        report.update(_report(self.raw, self.series, self.bounds, self.facts, self.short, pre, tensors, self.ts))

    def spec(
        self, config: Config, pre: SeriesPreprocessor, tensors: dict[str, TensorData], report: dict[str, Any]
    ) -> DataSpec:
        ts, layout = self.ts, self.layout
        return DataSpec(
            task="regression",
            n_features=len(layout.values),
            n_outputs=ts.horizon * len(layout.targets),
            kind="timeseries",
            input_shape=[ts.lookback, len(layout.values)],
            n_train=len(tensors["train"]),
            extra={
                "lookback": ts.lookback,
                "horizon": ts.horizon,
                "targets": layout.targets,
                "target_index": pre.state["target_index"],
            },
        )


def _series_config(config: Config) -> TimeSeriesConfig:
    data, ts = config.data, config.data.timeseries
    for key in ("validation_source", "test_source"):
        if getattr(data, key):
            raise ConfigError(
                f"data.{key}: time series are split by time within data.source; a separate file is not supported",
                hint="append those points to the series in data.source and set data.split fractions",
            )
    if ts.season is not None and ts.season > ts.lookback:
        raise ConfigError(
            f"data.timeseries.season ({ts.season}) is longer than the lookback ({ts.lookback})",
            hint="the seasonal-naive baseline needs a season of history in each window: raise the lookback",
        )
    if ts.target_columns is None and data.target:  # data.target names the one column to forecast
        ts = ts.model_copy(update={"target_columns": [data.target]})
    return ts


def _long_enough(series: list, ts: TimeSeriesConfig) -> tuple[list, list]:
    need = ts.lookback + ts.horizon
    kept = [(key, part) for key, part in series if len(part) >= need]
    if not kept:
        longest = max(len(part) for _, part in series)
        what = "the series has" if len(series) == 1 else f"the longest of {len(series)} series has"
        raise DataError(
            f"lookback + horizon ({ts.lookback} + {ts.horizon} = {need} points) is longer than the series: "
            f"{what} {longest} points",
            hint="lower data.timeseries.lookback or data.timeseries.horizon",
        )
    return kept, [key for key, part in series if len(part) < need]


def _season(ts: TimeSeriesConfig, train_targets: list[np.ndarray]) -> int:
    return ts.season if ts.season is not None else infer_season(train_targets, max_lag=ts.lookback)


def _window_frame(key: Any, part: pd.DataFrame, starts: np.ndarray, layout: SeriesLayout, ts: TimeSeriesConfig):
    """One row per window: its series and the times of its first input, first target and last target."""
    times = part[layout.time].to_numpy() if layout.time else np.arange(len(part))
    frame = pd.DataFrame(
        {
            "input_start": times[starts - ts.lookback],
            "target_start": times[starts],
            "target_end": times[starts + ts.horizon - 1],
        }
    )
    if layout.series is not None:
        frame.insert(0, layout.series, key)
    return frame


def _report(raw, series, bounds, facts, short, pre, tensors, ts) -> dict[str, Any]:
    s = pre.state
    sizes = np.array([(a, b - a, len(part) - b) for (_, part), (a, b) in zip(series, bounds, strict=True)])
    points = dict(zip(SPLITS, sizes.sum(0).tolist(), strict=True))
    used = {s["time_column"], s["series_column"], *s["value_columns"]}
    report: dict[str, Any] = {
        "rows_in": len(raw),
        "rows_out": sum(len(part) for _, part in series),
        "task": "regression",
        "target": s["target"],
        "splits": {name: len(tensors[name]) if name in tensors else 0 for name in SPLITS},
        "dropped_columns": {c: "not a value column" for c in raw.columns if c not in used},
        "timeseries": {
            **{k: v for k, v in facts.items() if k != "duplicate_lines"},
            "series": len(series),
            "points": points,
            "short_series_skipped": [str(k) for k in short],
            **{k: s[k] for k in ("time_column", "series_column", "value_columns", "target_columns")},
            **{k: s[k] for k in ("lookback", "horizon", "stride", "season")},
            "season_inferred": ts.season is None,
        },
    }
    report["notes"] = _notes(raw, facts, short, report, ts)
    if raw.attrs.get("path"):
        report["source"] = raw.attrs["path"]
    return report


def _notes(raw: pd.DataFrame, facts: dict[str, Any], short: list, report: dict[str, Any], ts) -> list[str]:
    info = report["timeseries"]
    fill = {"ffill": "forward-filled", "interpolate": "interpolated", "drop": "rows dropped"}[ts.missing]
    time = f"time column '{info['time_column']}'" if info["time_column"] else "row order as time"
    notes = [
        f"{info['series']} series, {report['rows_out']} points ({time}); windows of {ts.lookback} points → "
        f"{ts.horizon} step(s) ahead, stride {ts.stride}; forecasting {', '.join(info['target_columns'])}"
    ]
    if facts["rows_without_time"]:
        notes.append(f"dropped {facts['rows_without_time']} rows without a timestamp")
    if facts["unsorted_series"]:
        notes.append(f"time was not in order in {facts['unsorted_series']} series: sorted by time")
    if facts["duplicate_timestamps"]:
        notes.append(
            f"removed {facts['duplicate_timestamps']} rows repeating a timestamp (the first kept; "
            f"{where(raw, facts['duplicate_lines'])})"
        )
    if facts["missing_timestamps"]:
        notes.append(f"{facts['missing_timestamps']} missing timestamps inserted and {fill}")
    if facts["irregular_series"]:
        notes.append(f"{facts['irregular_series']} series have irregular time steps: no timestamps inserted")
    if facts["missing_values"]:
        cells = ", ".join(f"{c} ({n})" for c, n in facts["missing_values"].items())
        notes.append(f"missing values in {cells}: {fill}")
    if short:
        notes.append(f"skipped {len(short)} series shorter than lookback + horizon: {', '.join(map(str, short[:5]))}")
    how = "inferred from the autocorrelation" if info["season_inferred"] else "data.timeseries.season"
    notes.append(f"seasonal-naive baseline: season {info['season']} ({how})")
    notes.append(
        f"split by time on each series: {info['points']['train']} / {info['points']['validation']} / "
        f"{info['points']['test']} points; scaling fitted on the training points; a window belongs to the split of "
        "its targets and may read earlier points as its lookback"
    )
    return notes


__all__ = [
    "SeriesKind",
    "SeriesPreprocessor",
    "looks_like_timeseries",
    "make_windows",
    "window_starts",
]
