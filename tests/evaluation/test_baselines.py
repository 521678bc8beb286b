"""scikit-learn baselines beside the network: same rows, same metrics, eval.json layout, the finding, the switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deepfit.api import train
from deepfit.config import load_config
from deepfit.console import baselines_table
from deepfit.data.pipeline import prepare
from deepfit.evaluation import baselines as B

TINY = {"model": {"hidden": [8]}, "train": {"epochs": 2}, "output": {"report": False}}


def linear_frame(n: int = 240, seed: int = 0, regression: bool = False) -> pd.DataFrame:
    """Two numbers, a colour and a yes/no column; the label is a line through them (a linear model's data)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    score = 2 * x1 - x2 + (color == "red") * 1.5
    frame = pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "color": color, "member": rng.choice(["yes", "no"], n)})
    frame["y"] = score + rng.normal(0, 0.1, n) if regression else np.where(score > 0.5, "hi", "lo")
    frame.loc[[3, 17], "x1"] = np.nan  # imputed
    frame.loc[5, "color"] = np.nan
    return frame


def prepared_table(frame: pd.DataFrame) -> Any:
    return prepare(load_config({"data": {"target": "y"}}), frame)


class Spy:
    """An estimator that records the rows it is given and predicts the first class / the training mean."""

    calls: list[tuple[str, pd.Index]]

    def __init__(self) -> None:
        self.calls = []

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> Spy:
        self.calls.append(("fit", frame.index))
        self.y, self.classes_ = y, np.unique(y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(("predict", frame.index))
        return np.tile(np.eye(len(self.classes_))[0], (len(frame), 1))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(("predict", frame.index))
        return np.full(len(frame), float(np.mean(self.y)))


def test_baselines_are_fitted_on_the_training_rows_only_and_predict_each_split_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepared = prepared_table(linear_frame())
    spies = {"linear": Spy(), "hgb": Spy()}
    monkeypatch.setattr(B, "_linear_table", lambda *a: spies["linear"])
    monkeypatch.setattr(B, "_boosted_table", lambda *a: spies["hgb"])
    results = B.fit_baselines(prepared)
    frames = prepared.frames
    for spy in spies.values():
        assert [what for what, _ in spy.calls] == ["fit", "predict", "predict"]
        assert spy.calls[0][1].equals(frames["train"].index)
        assert spy.calls[1][1].equals(frames["validation"].index) and spy.calls[2][1].equals(frames["test"].index)
        assert spy.y.tolist() == prepared.tensors["train"].target.tolist()  # the labels the network learned
    assert results["linear"]["test"]["n_samples"] == len(frames["test"])


def test_a_train_only_lookup_target_is_not_learned_from_validation_or_test() -> None:
    # the target is a lookup of an id that appears in one row only: nothing learned on train carries over
    rng = np.random.default_rng(1)
    n = 300
    frame = pd.DataFrame({"code": [f"k{i}" for i in range(n)], "noise": rng.normal(size=n)})
    frame["y"] = rng.choice(["a", "b"], size=n)
    config = load_config({"data": {"target": "y", "column_types": {"code": "categorical"}}})
    prepared = prepare(config, frame)
    results = B.fit_baselines(prepared)
    assert results["linear"]["validation"]["accuracy"] < 0.75  # a leak would score 1.0
    assert results["linear"]["test"]["accuracy"] < 0.75


def test_metrics_equal_scikit_learns_on_the_baselines_predictions() -> None:
    from sklearn import metrics

    prepared = prepared_table(linear_frame())
    results = B.fit_baselines(prepared)
    columns = B.table_columns(prepared.preprocessor.state)
    model = B._linear_table(columns["numeric"], {}, columns["categorical"], "classification")
    model.fit(prepared.frames["train"], prepared.tensors["train"].target.numpy())
    y = prepared.tensors["test"].target.numpy()
    proba = model.predict_proba(prepared.frames["test"])
    test = results["linear"]["test"]
    assert test["accuracy"] == pytest.approx(metrics.accuracy_score(y, proba.argmax(1)))
    assert test["f1_macro"] == pytest.approx(metrics.f1_score(y, proba.argmax(1), average="macro"))
    assert test["log_loss"] == pytest.approx(metrics.log_loss(y, proba))
    assert test["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba[:, 1]))
    assert test["accuracy"] > 0.9  # the label is a line: a linear model finds it

    prepared = prepared_table(linear_frame(regression=True))
    results = B.fit_baselines(prepared)
    trees = B._boosted_table(columns["numeric"], {}, columns["categorical"], "regression", 0)
    trees.fit(prepared.frames["train"], prepared.frames["train"]["y"].to_numpy(dtype=float))
    y, pred = prepared.frames["validation"]["y"].to_numpy(dtype=float), trees.predict(prepared.frames["validation"])
    validation = results["hgb"]["validation"]
    assert validation["rmse"] == pytest.approx(metrics.root_mean_squared_error(y, pred), rel=1e-5)
    assert validation["r2"] == pytest.approx(metrics.r2_score(y, pred), rel=1e-5)
    assert results["linear"]["model"] == "ridge regression" and results["linear"]["validation"]["r2"] > 0.95


def test_a_baseline_beyond_the_cost_limit_is_skipped_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(B.MAX_COST, "hgb", 100)
    results = B.fit_baselines(prepared_table(linear_frame()))
    assert "validation" in results["linear"]
    assert set(results["hgb"]) == {"model", "skipped"}
    assert results["hgb"]["skipped"].startswith(f"{len(prepared_table(linear_frame()).frames['train']):,} rows x 4")


def test_text_gets_tfidf_and_a_linear_model() -> None:
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    labels = rng.choice(["pos", "neg"], size=160)
    texts = [" ".join(rng.choice(words[label], size=4)) + " film" for label in labels]
    frame = pd.DataFrame({"review": texts, "label": labels})
    config = load_config({"data": {"kind": "text", "target": "label", "text": {"text_column": "review"}}})
    results = B.fit_baselines(prepare(config, frame))
    assert list(results) == ["tfidf"] and results["tfidf"]["model"] == "tf-idf + logistic regression"
    assert results["tfidf"]["test"]["accuracy"] == 1.0


def test_kinds_without_baselines_get_none() -> None:
    prepared = prepare(load_config({"data": {"source": "builtin:synthetic_series"}}))
    assert not B.supports(prepared.spec) and B.fit_baselines(prepared) == {}


def test_eval_json_keeps_the_networks_keys_and_adds_baselines(tmp_path: Path) -> None:
    result = train({"data": {"target": "y"}, **TINY}, data=linear_frame(), run_dir=tmp_path / "run")
    evaluation = json.loads((result.run_dir / "eval.json").read_text())
    assert list(evaluation) == ["validation", "test", "baselines"]
    assert evaluation["test"] == result.metrics["test"]  # the network's, as before
    assert list(evaluation["baselines"]) == ["linear", "hgb"]
    linear = evaluation["baselines"]["linear"]
    assert {"model", "validation", "test", "seconds", "beats_network"} <= set(linear)
    assert linear["test"]["n_samples"] == evaluation["test"]["n_samples"]


def test_eval_baselines_false_fits_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a baseline was fitted")

    monkeypatch.setattr(B, "fit_baselines", refuse)
    config = {"data": {"target": "y"}, "eval": {"baselines": False}, **TINY}
    result = train(config, data=linear_frame(), run_dir=tmp_path / "run")
    assert "baselines" not in json.loads((result.run_dir / "eval.json").read_text())


def test_a_crippled_network_gets_a_finding_that_a_linear_model_beats_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "data": {"target": "y"},
        "model": {"hidden": [8]},
        "train": {"epochs": 1, "lr": 1e-6},
        "output": {"report": True},
    }
    result = train(config, data=linear_frame(), run_dir=tmp_path / "run", verbose=True)
    evaluation = json.loads((result.run_dir / "eval.json").read_text())
    assert evaluation["baselines"]["linear"]["beats_network"] is True
    findings = json.loads((result.run_dir / "diagnostics.json").read_text())["findings"]
    found = next(f for f in findings if f["kind"] == "baseline_beats_network")
    assert "logistic regression" in found["message"] or "gradient-boosted trees" in found["message"]
    assert "against the network's" in found["message"]
    assert found["advice"] == {"train.epochs": 2, "train.lr": "auto"}
    printed = capsys.readouterr()
    assert "baseline beats network" in printed.out + printed.err
    assert "Baselines (scikit-learn, same training split)" in printed.out
    page = (result.run_dir / "report.html").read_text()
    assert '<section id="baselines">' in page and "beats the network on validation" in page


def test_no_finding_when_the_network_holds_its_own() -> None:
    network = {"accuracy": 0.95, "n_samples": 50}
    baselines = {"linear": {"model": "logistic regression", "validation": {"accuracy": 0.97}}}
    assert B.mark_winners(network, baselines, "classification") == []  # one row better: noise
    baselines["linear"]["validation"]["accuracy"] = 0.99
    assert B.mark_winners(network, baselines, "classification") == ["linear"]
    rmse = {"linear": {"validation": {"rmse": 0.95}}, "hgb": {"validation": {"rmse": 0.8}}}
    assert B.mark_winners({"rmse": 1.0}, rmse, "regression") == ["hgb"]


def test_the_printed_table_fits_in_80_columns() -> None:
    from rich.console import Console

    evaluation = {"validation": {"rmse": 12345.678, "r2": 0.5}, "test": {"rmse": 123.4, "r2": -0.5}}
    baselines = {
        "linear": {"model": "ridge regression", "validation": {"rmse": 3000.1, "r2": 0.9}, "test": {"rmse": 1.5}},
        "hgb": {"model": "gradient-boosted trees", "skipped": "too big"},
        "tfidf": {"model": "tf-idf + logistic regression", "validation": {"rmse": 2.0}, "seconds": 12.25},
    }
    console = Console(width=200, record=True)
    console.print(baselines_table(evaluation, baselines, "regression"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "12,345.7" in text and "3,000.1" in text and "gradient-boosted" not in text and "12.2" in text
