"""TabM: an ensemble of k members trained on the mean of their losses, predicting the mean of their outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import deepfit
from deepfit.config import ModelConfig, TrainConfig
from deepfit.data.builtin import load_builtin
from deepfit.data.spec import DataSpec
from deepfit.models.tabm import build_tabm, normal_bins
from deepfit.training.losses import build_loss
from deepfit.training.trainer import TrainingInterrupted
from tests.training.test_resume import InterruptAt

SMALL = {"name": "tabm", "tabm_k": 4, "tabm_width": 16, "dropout": 0.0}


def small_tabm(task: str, n_outputs: int, **options) -> nn.Module:
    torch.manual_seed(0)
    spec = DataSpec(task=task, n_features=5, n_outputs=n_outputs, cardinalities=[4])
    return build_tabm(spec, ModelConfig(**{**SMALL, **options}))


def inputs(rows: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(rows, 5, generator=generator), torch.randint(0, 4, (rows, 1), generator=generator)


@pytest.mark.parametrize("embedding", ["piecewise_linear", "periodic", "none"])
def test_training_output_has_a_member_axis(embedding: str) -> None:
    model = small_tabm("classification", 3, tabm_embedding=embedding).train()
    assert model(*inputs()).shape == (9, 4, 3)
    assert model.eval()(*inputs()).shape == (9, 3)


def test_prediction_is_the_mean_of_the_members_probabilities() -> None:
    model = small_tabm("classification", 3).eval()
    members = model.members(*inputs())  # (rows, k, classes) logits
    expected = members.softmax(-1).mean(1)
    torch.testing.assert_close(model(*inputs()).softmax(-1), expected)
    torch.testing.assert_close(model(*inputs()).exp().sum(1), torch.ones(9))  # log-probabilities


def test_regression_prediction_is_the_mean_of_the_members_values() -> None:
    model = small_tabm("regression", 1).eval()
    torch.testing.assert_close(model(*inputs()), model.members(*inputs()).mean(1))


def test_members_differ() -> None:
    members = small_tabm("regression", 1).eval().members(*inputs())
    assert members.std(dim=1).min() > 0  # k models, not k copies


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1}])
def test_training_loss_is_the_mean_of_the_members_losses(options: dict) -> None:
    logits, target = torch.randn(6, 4, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    config = TrainConfig(**options)
    loss = build_loss(config, "classification")(logits, target)
    single = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    torch.testing.assert_close(loss, torch.stack([single(logits[:, j], target) for j in range(4)]).mean())
    values, y = torch.randn(6, 4, 1), torch.randn(6, 1)
    torch.testing.assert_close(build_loss(TrainConfig(), "regression")(values, y), ((values - y[:, None]) ** 2).mean())
    # a model without members is unchanged
    torch.testing.assert_close(build_loss(config, "classification")(logits[:, 0], target), single(logits[:, 0], target))


def test_bins_are_the_normal_quantiles_and_saved_with_the_weights() -> None:
    edges = normal_bins(4)
    torch.testing.assert_close(edges[1:-1], torch.tensor([-0.6745, 0.0, 0.6745]), atol=1e-4, rtol=0)
    assert edges[0] == pytest.approx(-5.2, abs=0.01) and edges[-1] == pytest.approx(5.2, abs=0.01)
    state = small_tabm("classification", 3).state_dict()
    assert {"numeric.impl.weight", "numeric.impl.bias"} <= set(state)  # the encoding's bins travel with the model


def test_tabm_learns_iris_with_quantile_scaling(tmp_path: Path) -> None:
    config = {
        "data": {"source": "builtin:iris", "preprocess": {"scaling": "quantile"}},
        "model": {"name": "tabm", "tabm_k": 8, "tabm_width": 32},
        "train": {"epochs": 12, "batch_size": 16, "lr": 0.01},
        "output": {"report": False},
    }
    result = deepfit.train(config, run_dir=tmp_path / "run", verbose=False)
    assert result.metrics["test"]["accuracy"] >= 0.9
    probabilities = deepfit.load(tmp_path / "run").predict_proba(load_builtin("iris").drop(columns=["target"]))
    np.testing.assert_allclose(probabilities.to_numpy(dtype=float).sum(1), 1.0, rtol=1e-5)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    config = {
        "data": {"source": "builtin:wine", "preprocess": {"scaling": "quantile"}},
        "model": {**SMALL, "dropout": 0.1},
        "train": {"epochs": 3, "batch_size": 32},
        "output": {"report": False},
    }
    straight = deepfit.train(config, run_dir=tmp_path / "straight", verbose=False)
    with pytest.raises(TrainingInterrupted):
        deepfit.train(config, run_dir=tmp_path / "cut", callbacks=[InterruptAt(5)], verbose=False)
    resumed = deepfit.train(resume=tmp_path / "cut", verbose=False)
    assert resumed.history == straight.history
    assert resumed.metrics == straight.metrics
    saved = {run: torch.load(tmp_path / run / "model" / "weights.pt", weights_only=True) for run in ("straight", "cut")}
    for key, tensor in saved["straight"].items():
        assert torch.equal(tensor, saved["cut"][key]), key


# ---------------------------------------------------------------- the recipe's numeric scaling (data.preprocess)
def test_quantile_scaling_matches_scikit_learn_on_continuous_columns() -> None:
    from sklearn.preprocessing import QuantileTransformer

    from deepfit.data.tabular.preprocess import apply_numeric_scaling, fit_numeric_scaling

    rng = np.random.default_rng(0)
    train, new = rng.lognormal(size=(600, 2)), rng.lognormal(size=(50, 2)) * 2
    state = fit_numeric_scaling(train, "quantile")
    assert len(state["quantiles"][0]) == 20  # max(min(rows // 30, 1000), 10)
    reference = QuantileTransformer(n_quantiles=20, output_distribution="normal").fit(train)
    np.testing.assert_allclose(apply_numeric_scaling(new, "quantile", state), reference.transform(new), atol=1e-6)


def test_quantile_scaling_puts_ties_in_the_middle_of_their_ranks() -> None:
    from deepfit.data.tabular.preprocess import apply_numeric_scaling, fit_numeric_scaling

    binary = np.array([[0.0]] * 50 + [[1.0]] * 50)
    scaled = apply_numeric_scaling(binary, "quantile", fit_numeric_scaling(binary, "quantile"))
    low, high = sorted(set(np.round(scaled[:, 0], 6)))
    # half the rows at each value: symmetric about 0, well inside the ±5.2 of the extreme ranks
    assert low == pytest.approx(-high) and 0.5 < high < 1.0


def test_robust_scaling_is_centred_and_smoothly_clipped() -> None:
    from deepfit.data.tabular.preprocess import apply_numeric_scaling, fit_numeric_scaling

    values = np.concatenate([np.arange(100.0), [1e6]])[:, None]
    scaled = apply_numeric_scaling(values, "robust", fit_numeric_scaling(values, "robust"))
    assert np.median(scaled) == pytest.approx(0.0) and np.abs(scaled).max() < 3.0
    assert np.all(np.diff(scaled[:, 0]) > 0)  # order kept


def test_quantile_scaling_is_saved_as_json(tmp_path: Path) -> None:
    import pandas as pd

    from deepfit.config import DataConfig, PreprocessConfig
    from deepfit.data.schema import infer_schema
    from deepfit.data.tabular.preprocess import TabularPreprocessor

    train = pd.DataFrame({"a": np.linspace(0, 1, 40) ** 3, "target": ["x", "y"] * 20})
    schema = infer_schema(train, DataConfig(), "target")
    pre = TabularPreprocessor(PreprocessConfig(scaling="quantile")).fit(train, schema)
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    torch.testing.assert_close(again.transform(train)[0], pre.transform(train)[0])
    x = pre.transform(train)[0][:, 0]
    assert x.median().abs() < 0.2 and x.min() == pytest.approx(-5.2, abs=0.01)  # normal on train, ends at ±5.2
