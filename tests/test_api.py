from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

import deepfit
from deepfit.errors import DataError
from deepfit.runs import read_jsonl
from tests.conftest import FAST


def test_messy_csv_trains_with_no_hand_preparation(tmp_path: Path, messy_csv: Path, messy_frame: pd.DataFrame) -> None:
    config = {"data": {"source": str(messy_csv), "target": "label"}, "train": {"epochs": 40}}
    result = deepfit.train(config, run_dir=tmp_path / "run")
    run = result.run_dir
    for name in (
        "config.yaml",
        "data_report.json",
        "metrics.jsonl",
        "eval.json",
        "model/meta.json",
        "checkpoints/last.pt",
    ):
        assert (run / name).is_file(), name
    report = json.loads((run / "data_report.json").read_text())
    assert report["duplicate_rows"] == 2 and "customer_id" in report["dropped_columns"]
    evaluation = json.loads((run / "eval.json").read_text())
    assert {"validation", "test"} <= set(evaluation)
    assert evaluation["test"]["accuracy"] > 0.8  # the label is a simple function of the features
    assert len(read_jsonl(run / "metrics.jsonl")) == len(result.history)

    raw = messy_frame.drop(columns=["label"]).head(12)
    predictions = deepfit.load(run).predict(raw)
    assert list(predictions.columns) == ["prediction", "proba_no", "proba_yes"]
    assert set(predictions["prediction"]) <= {"yes", "no"}
    assert predictions[["proba_no", "proba_yes"]].sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-6)


def test_same_config_and_seed_give_the_same_metrics(tmp_path: Path) -> None:
    runs = [deepfit.train("examples/iris.yaml", run_dir=tmp_path / str(i), overrides=FAST) for i in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert runs[0].history == runs[1].history


def test_keyword_overrides_and_dataframe_source(tmp_path: Path) -> None:
    from deepfit.data.builtin import load_builtin

    frame = load_builtin("iris")
    result = deepfit.train(data=frame, run_dir=tmp_path / "r", train__epochs=2, model={"hidden": [8]})
    assert len(result.history) == 2
    assert "hidden:\n  - 8" in (tmp_path / "r" / "config.yaml").read_text()


def test_evaluate_on_new_data_equals_stored_test_metrics(tmp_path: Path) -> None:
    from deepfit.data.builtin import load_builtin

    result = deepfit.train("examples/iris.yaml", run_dir=tmp_path / "r", overrides=FAST)
    predictor = deepfit.load(result.run_dir)
    frame = load_builtin("iris")
    metrics = deepfit.evaluate(result.run_dir, frame)["data"]
    predictions = predictor.predict(frame)
    assert metrics["accuracy"] == pytest.approx((predictions["prediction"] == frame["target"]).mean())
    assert deepfit.evaluate(result.run_dir) == json.loads((result.run_dir / "eval.json").read_text())


def test_regression_predictions_are_in_original_units(tmp_path: Path) -> None:
    from deepfit.data.builtin import load_builtin

    result = deepfit.train("examples/diabetes.yaml", run_dir=tmp_path / "r", overrides={"train.epochs": 30})
    frame = load_builtin("diabetes")
    predictions = deepfit.load(result.run_dir).predict(frame.drop(columns=["target"]))
    assert 50 < predictions["prediction"].mean() < 250  # the target's scale, not standardised units


def test_missing_feature_at_prediction_is_named(tmp_path: Path) -> None:
    from deepfit.data.builtin import load_builtin

    result = deepfit.train("examples/iris.yaml", run_dir=tmp_path / "r", overrides=FAST)
    frame = load_builtin("iris").drop(columns=["target", "petal width (cm)"])
    with pytest.raises(DataError, match=r"feature column 'petal width \(cm\)' is missing from the input"):
        deepfit.load(result.run_dir).predict(frame)


def test_inspect_reports_without_training(messy_csv: Path) -> None:
    report = deepfit.inspect(messy_csv, target="label")
    assert report["conflicts"]["groups"] == 1 and report["rows_out"] == 238


def test_inspect_reports_a_table_too_small_to_split() -> None:
    """The report is for finding problems: a class with one row (which a stratified split refuses) is shown."""
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "label": ["a", "a", "a", "b", "b", "rare"]})
    report = deepfit.inspect(frame, target="label")
    assert report["target_summary"]["classes"] == {"a": 3, "b": 2, "rare": 1} and "splits" not in report


def test_separate_test_file(tmp_path: Path) -> None:
    from deepfit.data.builtin import load_builtin

    frame = load_builtin("wine")
    frame.iloc[:140].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[140:].to_csv(tmp_path / "test.csv", index=False)
    config = {"data": {"source": "train.csv", "test_source": "test.csv"}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    result = deepfit.train(tmp_path / "c.yaml", run_dir=tmp_path / "r", overrides=FAST)
    assert result.metrics["test"]["n_samples"] == len(frame) - 140


def test_iris_from_a_dataframe_with_defaults_only_reaches_095(tmp_path: Path) -> None:
    """The issue's first complaint: defaults only, the Python API, a DataFrame (0.83 with the old MLP defaults)."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    result = deepfit.train(data=frame, data__target="target", run_dir=tmp_path / "iris", quiet=True)
    assert result.metrics["test"]["accuracy"] >= 0.95
    saved = (result.run_dir / "config.yaml").read_text()
    assert "name: tabm" in saved and "scaling: quantile" in saved  # the resolved recipe is what is saved
    train = yaml.safe_load(saved)["train"]
    assert (train["schedule"]["name"], train["lr"], train["early_stopping"]["patience"]) == ("constant", 0.002, 16)
