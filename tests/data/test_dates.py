from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfit.config import CleanConfig, DataConfig, PreprocessConfig, load_config
from deepfit.data.clean import summarize
from deepfit.data.dates import detect_format, parse_dates
from deepfit.data.pipeline import prepare
from deepfit.data.schema import coerce_numeric, infer_kind, infer_schema
from deepfit.data.tabular.preprocess import TabularPreprocessor
from deepfit.errors import DataError, DataWarning


@pytest.mark.parametrize(
    ("values", "fmt", "first"),
    [
        (["2024-03-01", "2023-12-31", None], "ISO8601", "2024-03-01 00:00"),
        (["2024-03-01 12:30", "2023-12-31 08:00"], "ISO8601", "2024-03-01 12:30"),
        (["03/01/2024", "12/31/2023"], "%m/%d/%Y", "2024-03-01 00:00"),
        (["13/01/2024", "31/12/2023"], "%d/%m/%Y", "2024-01-13 00:00"),
        (["1 Mar 2024", "15 Apr 2023"], "%d %b %Y", "2024-03-01 00:00"),
        (["Mar 1, 2024", "Apr 15, 2023"], "%b %d, %Y", "2024-03-01 00:00"),
    ],
)
def test_string_formats(values: list, fmt: str, first: str) -> None:
    column = pd.Series(values)
    assert detect_format(column) == fmt
    assert parse_dates(column, fmt).iloc[0] == pd.Timestamp(first)


def test_time_zones_are_converted_to_utc() -> None:
    strings = pd.Series(["2024-03-01T12:00:00+02:00", "2024-03-01T12:00:00Z", "2024-03-01T12:00:00-05:00"])
    assert parse_dates(strings, detect_format(strings)).dt.hour.tolist() == [10, 12, 17]
    aware = pd.Series(pd.to_datetime(["2024-07-01 12:00"]).tz_localize("Europe/Paris"))
    assert detect_format(aware) == "ISO8601"
    assert parse_dates(aware, "ISO8601").iloc[0] == pd.Timestamp("2024-07-01 10:00")  # CEST is UTC+2


def test_epochs_only_in_date_named_columns_in_range() -> None:
    seconds = pd.Series(np.linspace(1.6e9, 1.7e9, 30))
    assert infer_kind(seconds, "created_timestamp") == "date"
    assert detect_format(seconds, "created_timestamp") == "epoch_s"
    assert infer_kind(seconds, "price") == "numeric"
    assert detect_format(seconds * 1000, "eventTime") == "epoch_ms"
    assert infer_kind(pd.Series(np.arange(30.0)), "time_spent") == "numeric"  # 1970: not a plausible date
    assert parse_dates(pd.Series([0.0, 86400.0]), "epoch_s").tolist() == [
        pd.Timestamp("1970-01-01"),
        pd.Timestamp("1970-01-02"),
    ]


def test_kinds_of_date_columns() -> None:
    assert infer_kind(pd.Series(pd.date_range("2024-01-01", periods=5))) == "date"
    assert infer_kind(pd.Series([f"2024-01-{d:02d}" for d in range(1, 20)] + ["oops"])) == "date"  # a stray cell
    assert infer_kind(pd.Series(["red", "blue"] * 10)) == "categorical"


def test_date_columns_are_not_dropped_as_identifiers_and_overrides_win() -> None:
    frame = pd.DataFrame(
        {"when": pd.date_range("2024-01-01", periods=40, freq="h").astype(str), "x": range(40), "y": [0, 1] * 20}
    )
    assert infer_schema(frame, DataConfig(target="y"), "y").kinds["when"] == "date"
    forced = infer_schema(frame, DataConfig(target="y", column_types={"when": "categorical"}), "y")
    assert forced.kinds["when"] == "categorical"
    as_date = infer_schema(frame.assign(x=range(40)), DataConfig(target="y", column_types={"x": "date"}), "y")
    assert as_date.kinds["x"] == "date" and as_date.date_formats["x"] == "epoch_s"
    with pytest.raises(DataError, match=r"column 'c' is set to date.*'red'"):
        infer_schema(frame.assign(c="red"), DataConfig(target="y", column_types={"c": "date"}), "y")


def test_date_target_is_refused() -> None:
    frame = pd.DataFrame({"x": range(30), "when": pd.date_range("2024-01-01", periods=30).astype(str)})
    with pytest.raises(DataError, match=r"target column 'when' of .* holds dates") as info:
        infer_schema(frame, DataConfig(target="when"), "when")
    assert "days until an event" in info.value.hint


def _fit(train: pd.DataFrame) -> tuple[TabularPreprocessor, object]:
    schema = infer_schema(train, DataConfig(target="y"), "y")
    coerced = coerce_numeric(train, schema, None)
    return TabularPreprocessor(PreprocessConfig(), CleanConfig().numeric_impute).fit(coerced, schema), schema


def test_feature_values_on_known_dates() -> None:
    train = pd.DataFrame({"d": ["2024-01-01 06:00", "2024-03-01 18:00", None, "2024-12-31 00:00"], "y": [1.0] * 4})
    pre, _ = _fit(train)
    names = pre.feature_report()["date_features"]["d"]
    assert names == [
        *("d_days", "d_year", "d_month", "d_day_of_week", "d_day_of_year", "d_hour"),
        *("d_month_sin", "d_month_cos", "d_day_of_week_sin", "d_day_of_week_cos", "d_hour_sin", "d_hour_cos"),
        "d_missing",
    ]
    assert pre.n_features == len(names)
    (x,) = pre.transform(train)
    state = pre.state["date"]["d"]
    assert state["origin"] == "2024-01-01T06:00:00"  # the training minimum
    raw = x[:, :6].numpy() * np.array(state["scale"]) + np.array(state["center"])
    # 2024-03-01 18:00 (a Friday): 60.5 days after the origin, month 3, day 4 (Mon = 0), day of year 61, 18 h
    assert raw[1] == pytest.approx([60.5, 2024, 3, 4, 61, 18], abs=1e-4)
    angles = [2 * np.pi * 2 / 12, 2 * np.pi * 4 / 7, 2 * np.pi * 18 / 24]  # March, Friday, 18 h
    assert x[1, 6:12].numpy() == pytest.approx([f(a) for a in angles for f in (np.sin, np.cos)], abs=1e-5)
    assert x[:, 12].tolist() == [0.0, 0.0, 1.0, 0.0]  # missing indicator
    assert x[2, :6].tolist() == pytest.approx(x[1, :6].tolist())  # imputed as the training median (2024-03-01 18:00)


def test_dates_without_time_of_day_have_no_hour_features() -> None:
    pre, _ = _fit(pd.DataFrame({"d": ["2024-01-01", "2024-03-01", "2024-12-31"], "y": [1.0] * 3}))
    assert pre.feature_report()["date_features"]["d"] == [
        *("d_days", "d_year", "d_month", "d_day_of_week", "d_day_of_year"),
        *("d_month_sin", "d_month_cos", "d_day_of_week_sin", "d_day_of_week_cos"),
    ]


def test_prediction_on_raw_strings_equals_training(tmp_path) -> None:
    rng = np.random.default_rng(0)
    dates = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, 60), unit="D")
    raw = pd.DataFrame({"sold": dates.strftime("%d/%m/%Y"), "x": rng.normal(size=60), "y": rng.normal(size=60)})
    raw.loc[3, "sold"] = None
    path = tmp_path / "t.csv"
    raw.to_csv(path, index=False)
    split = {"train": 0.8, "validation": 0.2, "test": 0}
    prepared = prepare(load_config({"data": {"source": str(path), "target": "y", "split": split}}))
    pre = TabularPreprocessor.from_dict(prepared.preprocessor.to_dict())  # the saved state, as JSON
    assert pre.state["date"]["sold"]["format"] == "%d/%m/%Y"
    train = prepared.frames["train"]
    again = pd.read_csv(path).loc[train.index]  # the same rows, as strings read back
    assert torch_equal(pre.transform(again)[0], prepared.tensors["train"].inputs[0])
    with pytest.warns(DataWarning, match=r"column 'sold': 1 cell is not a date \(read as %d/%m/%Y\)"):
        (x,) = pre.transform(again.head(3).assign(sold=["01/02/2021", "yesterday", None]))
    assert not np.isnan(x.numpy()).any()
    lines = summarize(prepared.report)
    expected = "column 'sold': dates (read as %d/%m/%Y, UTC) → 10 features: days, year"
    assert any(line.startswith(expected) for line in lines)


def torch_equal(a, b) -> bool:
    return bool((a - b).abs().max() < 1e-6)


def test_date_column_learned_end_to_end(tmp_path) -> None:
    import deepfit

    rng = np.random.default_rng(1)
    n = 600
    days = rng.integers(0, 2000, n)
    dates = pd.Timestamp("2018-01-01") + pd.to_timedelta(days, unit="D")
    frame = pd.DataFrame(
        {"listed": dates.strftime("%Y-%m-%d"), "noise": rng.normal(size=n), "y": days / 100 + rng.normal(0, 1, n)}
    )
    config = {"data": {"target": "y"}, "train": {"epochs": 30}, "model": {"name": "mlp", "hidden": [32]}}
    result = deepfit.train(
        {**config, "output": {"report": False}},
        data=frame,
        run_dir=tmp_path / "run",
        verbose=False,
    )
    assert result.metrics["test"]["r2"] > 0.6  # chance is 0; the date alone explains ~97 % of the variance
