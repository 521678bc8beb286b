"""rnn, lstm, gru: initialisation, padding ignored, they learn (forecast a sine, tell sine from square), auto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import ModelConfig, load_config
from deepfit.data.pipeline import prepare
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.evaluation.evaluate import evaluate_data
from deepfit.models.registry import build_model
from deepfit.models.rnn import SequenceRNN
from deepfit.models.select import resolve_model
from deepfit.training.trainer import Trainer
from tests.data.test_sequences import waves, write_npz

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def sine_csv(path: Path, n: int = 400, period: int = 16) -> Path:
    t = np.arange(n)
    frame = pd.DataFrame({"time": t, "value": np.sin(2 * np.pi * t / period)})
    frame.to_csv(path, index=False)
    return path


def series_case(model: dict[str, Any]) -> Any:
    """A conformance case (tests/models/test_conformance.py): forecast a sine; predict from its last points."""

    def case(tmp_path: Path) -> tuple[dict[str, Any], Any]:
        path = sine_csv(tmp_path / "sine.csv", n=120)
        config = {"data": {"source": str(path), "timeseries": {"lookback": 8, "horizon": 2}}, "model": model}
        raw = pd.read_csv(path).tail(20)
        raw.attrs["n_predictions"] = 1  # one forecast for the one series
        return config, raw

    return case


def sequence_case(model: dict[str, Any]) -> Any:
    """A conformance case: sine vs square waves of several lengths; predict on raw arrays."""

    def case(tmp_path: Path) -> tuple[dict[str, Any], Any]:
        path = write_npz(tmp_path / "waves.npz", n=40)
        return {"data": {"source": str(path)}, "model": model}, waves(5, seed=3)[0]

    return case


def spec(kind: str = "timeseries", n_train: int = 100) -> DataSpec:
    return DataSpec(task="regression", n_features=2, n_outputs=3, kind=kind, input_shape=[10, 2], n_train=n_train)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_initialisation(cell: str) -> None:
    model = build_model(ModelConfig(name=cell, rnn_hidden=8, rnn_layers=2), spec())
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    for name, param in model.rnn.named_parameters():
        if name.startswith("weight_hh"):
            for block in param.detach().chunk(gates):
                assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)  # orthogonal
        elif name.startswith("weight_ih"):
            bound = (6 / (param.shape[1] + 8)) ** 0.5  # xavier uniform, per gate block
            assert param.abs().max() <= bound + 1e-6
        elif name.startswith("bias_ih") and cell == "lstm":
            assert param[8:16].eq(1).all() and param[:8].eq(0).all() and param[16:].eq(0).all()
        elif name.startswith("bias"):
            assert param.eq(0).all()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_reaches_the_result(bidirectional: bool) -> None:
    torch.manual_seed(0)
    model = SequenceRNN(2, 3, cell="lstm", hidden=8, bidirectional=bidirectional).eval()
    x = torch.randn(1, 5, 2)
    padded = torch.cat([x, torch.full((1, 3, 2), 99.0)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(x, torch.tensor([5])), model(padded, torch.tensor([5])), atol=1e-6)
        assert torch.allclose(model(x), model(x, torch.tensor([5])), atol=1e-6)  # full length: no packing


def test_a_forecast_follows_a_shift_of_the_series() -> None:
    """Forecasters read the window relative to its last point: shift the series, and the forecast shifts."""
    torch.manual_seed(0)
    model = SequenceRNN(2, 6, cell="gru", hidden=8, last_value=[0, 1]).eval()
    x = torch.randn(4, 10, 2)
    with torch.no_grad():
        shifted = model(x + torch.tensor([3.0, -1.0])) - model(x)
    assert torch.allclose(shifted, torch.tensor([3.0, -1.0]).repeat(4, 3), atol=1e-5)


def fit(config: dict[str, Any], epochs: int) -> tuple[Any, Any]:
    cfg = load_config(config, {"train.epochs": epochs, "train.diagnostics.enabled": False})
    prepared = prepare(cfg)
    model_config, _ = resolve_model(cfg.model, prepared.spec)
    torch.manual_seed(0)
    model = build_model(model_config, prepared.spec)
    tensors = prepared.tensors
    Trainer(cfg.train).fit(model, tensors["train"], tensors.get("validation"), task=prepared.spec.task)
    return model, prepared


def test_lstm_forecasts_a_clean_sine_better_than_naive(tmp_path: Path) -> None:
    config = {
        "data": {"source": str(sine_csv(tmp_path / "sine.csv")), "timeseries": {"lookback": 20, "horizon": 4}},
        "model": {"name": "lstm", "rnn_hidden": 16, "bidirectional": False, "dropout": 0.0},
        "train": {"lr": 0.01, "batch_size": 32},
    }
    model, prepared = fit(config, epochs=12)
    report = evaluate_data(model, prepared.tensors["test"], 256, prepared.spec, prepared.preprocessor)
    assert report["season"] == 16
    assert report["beats_naive"] and report["mae"] < 0.25 * report["baselines"]["naive"]["mae"]


def test_gru_classifies_sine_vs_square(tmp_path: Path) -> None:
    config = {
        "data": {"source": str(write_npz(tmp_path / "waves.npz", n=160, steps=32))},
        "model": {"name": "gru", "rnn_hidden": 16, "dropout": 0.0},
        "train": {"lr": 0.01, "batch_size": 32},
    }
    model, prepared = fit(config, epochs=15)
    report = evaluate_data(model, prepared.tensors["test"], 256, prepared.spec, prepared.preprocessor)
    assert report["accuracy"] >= 0.9


def test_auto_picks_gru_for_small_data_lstm_for_more_within_budget() -> None:
    small, reason = resolve_model(ModelConfig(), spec("timeseries", n_train=500))
    assert small.name == "gru" and not small.bidirectional and "forecasting with 500 training samples" in reason
    large, _ = resolve_model(ModelConfig(), spec("timeseries", n_train=5_000))
    assert large.name == "lstm" and large.rnn_hidden == 128
    budget, reason = resolve_model(ModelConfig(max_params=5_000), spec("timeseries", n_train=5_000))
    params = sum(p.numel() for p in build_model(budget, spec(n_train=5_000)).parameters())
    assert params <= 5_000 and "within model.max_params=5,000" in reason
    sequence, _ = resolve_model(ModelConfig(), spec("sequence", n_train=500))
    assert sequence.name == "gru" and sequence.bidirectional


def test_recurrent_models_need_sequences() -> None:
    table = DataSpec(task="regression", n_features=4, n_outputs=1)
    with pytest.raises(ConfigError, match=r"model.name: lstm reads sequences of feature vectors; this data is tabular"):
        build_model(ModelConfig(name="lstm"), table)
