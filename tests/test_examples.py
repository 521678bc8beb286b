"""Every example config runs, and reaches the figure the README states for it."""

from __future__ import annotations

from pathlib import Path

import pytest

import deepfit
from tests.conftest import ROOT

# example -> (metric, lowest acceptable test value)
TABULAR = {
    "digits": ("accuracy", 0.97),
    "iris": ("accuracy", 0.9),
    "wine": ("accuracy", 0.9),
    "breast_cancer": ("accuracy", 0.93),
}


@pytest.mark.parametrize("name", sorted(TABULAR))
def test_classification_example(name: str, tmp_path: Path) -> None:
    metric, floor = TABULAR[name]
    result = deepfit.train(ROOT / "examples" / f"{name}.yaml", run_dir=tmp_path / name)
    assert result.metrics["test"][metric] >= floor


def test_diabetes_example_matches_a_linear_model_on_the_same_split(tmp_path: Path) -> None:
    """Diabetes is small and noisy: the bar is ridge regression on the very same split, not a fixed number."""
    from sklearn.linear_model import Ridge

    from deepfit.config import load_config
    from deepfit.data.pipeline import prepare

    config_path = ROOT / "examples" / "diabetes.yaml"
    result = deepfit.train(config_path, run_dir=tmp_path / "diabetes")
    prepared = prepare(load_config(config_path))
    pre, tensors = prepared.preprocessor, prepared.tensors
    ridge = Ridge(alpha=1.0).fit(tensors["train"].inputs[0].numpy(), tensors["train"].target.numpy())
    pred = pre.inverse_target(ridge.predict(tensors["test"].inputs[0].numpy())).reshape(-1)
    truth = pre.inverse_target(tensors["test"].target.numpy())[:, 0]
    ridge_r2 = 1 - ((truth - pred) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    assert result.metrics["test"]["r2"] >= ridge_r2 - 0.05
    assert result.metrics["validation"]["r2"] > 0.4
