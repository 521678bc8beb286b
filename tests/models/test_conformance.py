"""One conformance suite over every registered architecture (scikit-learn's check_estimator, for models).

Each architecture has a case: a config on tiny data and raw input to predict on. The suite checks that it
builds from the config, one optimizer step lowers the loss on a tiny batch, saving and loading gives
identical predictions, and predict works on raw input. An architecture without a case fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from deepfit.config import load_config
from deepfit.data.builtin import load_builtin
from deepfit.data.pipeline import prepare
from deepfit.models.registry import architecture_names, build_model
from deepfit.models.select import resolve_model
from deepfit.predictor import Predictor, save_model
from deepfit.training.losses import build_loss
from tests.models.test_rnn import sequence_case, series_case
from tests.models.test_text import text_case
from tests.training.test_gan import check_gan_conformance

Case = Callable[[Path], tuple[dict[str, Any], Any]]  # tmp_path -> (config, raw input for predict)


def iris_case(model: dict[str, Any]) -> Case:
    def case(tmp_path: Path) -> tuple[dict[str, Any], Any]:
        raw = load_builtin("iris").drop(columns=["target"]).head(7)
        return {"data": {"source": "builtin:iris"}, "model": model}, raw

    return case


def image_case(model: dict[str, Any]) -> Case:
    """A tiny folder of 12x12 coloured shapes (three classes); predict on a table of image paths."""

    def case(tmp_path: Path) -> tuple[dict[str, Any], Any]:
        from tests.data.shapes import write_shapes

        files = write_shapes(tmp_path / "shapes", per_class=8, size=12)
        config = {"data": {"source": str(tmp_path / "shapes"), "image": {"cache": False}}, "model": model}
        return config, pd.DataFrame({"path": [str(f) for f in files[::5]]})

    return case


# Each data kind adds the cases of its architectures here.
CASES: dict[str, Case] = {
    "cnn": image_case({"name": "cnn", "channels": [8, 16], "blocks": 1, "dropout": 0.0}),
    "resnet": image_case({"name": "resnet", "channels": [8, 16], "blocks": 1, "dropout": 0.0}),
    "mlp": iris_case({"name": "mlp", "hidden": [8], "dropout": 0.0}),
    "tabm": iris_case({"name": "tabm", "tabm_k": 4, "tabm_width": 16, "dropout": 0.0}),
    "custom": iris_case({"name": "custom", "builder": "tests.models.builders:tiny_net"}),
    "auto": iris_case({"name": "auto", "dropout": 0.0}),
    "text_rnn": text_case({"name": "text_rnn", "embedding_dim": 16, "rnn_hidden": 16, "dropout": 0.0}),
    "rnn": series_case({"name": "rnn", "rnn_hidden": 8, "bidirectional": False, "dropout": 0.0}),
    "lstm": series_case({"name": "lstm", "rnn_hidden": 8, "rnn_layers": 2, "dropout": 0.0}),
    "gru": sequence_case({"name": "gru", "rnn_hidden": 8, "dropout": 0.0}),
    "transformer": text_case({"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "dropout": 0.0}),
    "ngram": text_case({"name": "ngram", "embedding_dim": 8, "ngram_buckets": 64, "dropout": 0.0}),
}


# Architectures not trained on one supervised loss (a GAN: two nets, two losses, samples rather than
# predictions) check what applies to them instead: name -> check(tmp_path), which asserts.
OWN_CHECKS: dict[str, Callable[[Path], None]] = {"gan": check_gan_conformance}


def test_every_architecture_has_a_case() -> None:
    assert set(architecture_names()) <= set(CASES) | set(OWN_CHECKS)


@pytest.mark.parametrize("name", sorted(OWN_CHECKS))
def test_architecture_own_conformance(name: str, tmp_path: Path) -> None:
    OWN_CHECKS[name](tmp_path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_architecture_conformance(name: str, tmp_path: Path) -> None:
    config_dict, raw = CASES[name](tmp_path)
    config = load_config(config_dict)
    prepared = prepare(config)
    spec = prepared.spec
    model_config, _ = resolve_model(config.model, spec)
    torch.manual_seed(0)
    model = build_model(model_config, spec)

    # one optimizer step lowers the loss on a tiny batch
    inputs, target = next(prepared.tensors["train"].batches(16))
    loss_fn = build_loss(config.train, spec.task)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    before = loss_fn(model(*inputs), target)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_fn(model(*inputs), target)
    assert after.item() < before.item()

    # save and load give identical predictions on raw input
    run = tmp_path / "run"
    save_model(run, model, spec, prepared.preprocessor, model_config)
    predictions = Predictor(model, spec, prepared.preprocessor).predict(raw)
    reloaded = Predictor.load(run, trust_code=model_config.name == "custom").predict(raw)
    pd.testing.assert_frame_equal(predictions, reloaded)
    # one prediction per input row; a case may say otherwise (a forecast is one row per series)
    assert len(predictions) == getattr(raw, "attrs", {}).get("n_predictions", len(raw))
