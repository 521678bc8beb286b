"""The architecture registry: lookups without torch, sizes for summaries, mistakes named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import Field
from torch import nn

import deepfit
from deepfit.config import ModelConfig, load_config, load_saved_config
from deepfit.data.builtin import load_builtin
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.models import registry
from deepfit.models.registry import architecture_names, describe, get_builder, register_architecture


def test_describe_shows_each_family_by_its_own_size_keys() -> None:
    assert describe({"name": "mlp", "hidden": [256, 128]}) == "mlp hidden [256, 128]"
    assert describe({"name": "cnn", "channels": [16, 32], "blocks": 2}) == "cnn channels [16, 32] blocks 2"
    assert describe({"name": "gru", "rnn_hidden": 64, "rnn_layers": 1}) == "gru rnn_hidden 64 rnn_layers 1"
    assert describe({"name": "transformer", "d_model": 128, "layers": 2}) == "transformer d_model 128 layers 2"
    assert describe({"name": "custom", "builder": "nets.py:build"}) == "custom nets.py:build"
    assert describe({"name": "gan", "hidden": [64], "channels": [8, 16]}, "image") == "gan channels [8, 16]"


def test_an_unknown_architecture_is_named_with_a_suggestion() -> None:
    assert {"mlp", "cnn", "resnet", "rnn", "lstm", "gru", "text_rnn", "transformer", "gan"} <= set(architecture_names())
    with pytest.raises(ConfigError, match="unknown architecture 'lstn' \\(did you mean 'lstm'"):
        get_builder("lstn")


# ---------------------------------------------------------------- an architecture of the user's, with its own keys
class WideConfig(ModelConfig):
    name: str = "wide"
    width: int = Field(16, ge=1, description="Units of the one hidden layer.")


def build_wide(spec: DataSpec, config: WideConfig) -> nn.Module:
    return nn.Sequential(nn.Linear(spec.n_features, config.width), nn.ReLU(), nn.Linear(config.width, spec.n_outputs))


@pytest.fixture
def wide() -> Iterator[None]:
    """``wide`` registered for one test (the registry is restored after it)."""
    with registry.ARCHITECTURES.scoped(), registry.CONFIGS.scoped():
        register_architecture("wide", build_wide, config=WideConfig)
        yield


IRIS = {"data": {"source": "builtin:iris"}, "train": {"epochs": 2}, "eval": {"baselines": False}}


def test_a_users_architecture_trains_from_a_dict_with_its_own_keys(wide: None, tmp_path: Path) -> None:
    config = {**IRIS, "model": {"name": "wide", "width": 8}}
    result = deepfit.train(config, run_dir=tmp_path / "run", quiet=True)
    meta = json.loads((result.run_dir / "model" / "meta.json").read_text())
    assert meta["model"] == {"name": "wide", "max_params": None, "dropout": 0.1, "width": 8}
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())["model"]
    assert saved == meta["model"]
    predictor = deepfit.load(result.run_dir)
    assert predictor.model[0].out_features == 8
    assert len(predictor.predict(load_builtin("iris").drop(columns=["target"]).head(3))) == 3
    with pytest.raises(ConfigError, match=r"model.widht: unknown key 'widht' for the wide architecture \(did you mean"):
        load_config({"model": {"name": "wide", "widht": 8}})


def test_without_a_config_class_an_architecture_has_the_common_keys(wide: None) -> None:
    register_architecture("plain", build_wide)
    assert type(load_config({"model": {"name": "plain", "dropout": 0.2}}).model) is ModelConfig
    with pytest.raises(ConfigError, match=r"model.width: unknown key 'width' for the plain architecture \(a key of"):
        load_config({"model": {"name": "plain", "width": 8}})
    with pytest.raises(ValueError, match=r"must be a subclass of deepfit\.config\.ModelConfig"):
        register_architecture("bad", build_wide, config=dict)  # type: ignore[arg-type]


def test_a_run_saved_with_every_models_keys_still_loads(tmp_path: Path) -> None:
    """Runs saved before each architecture had its own keys hold all of them in meta.json and config.yaml."""
    from tests.test_config import OLD_FLAT_MODEL

    result = deepfit.train({**IRIS, "model": {"name": "mlp", "hidden": [16]}}, run_dir=tmp_path / "run", quiet=True)
    meta_path = result.run_dir / "model" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "model": OLD_FLAT_MODEL}))
    frame = load_builtin("iris").head(5)
    assert len(deepfit.predict(result.run_dir, frame.drop(columns=["target"]))) == 5
    assert "accuracy" in deepfit.evaluate(result.run_dir, frame)["data"]
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    old = load_saved_config({**saved, "model": OLD_FLAT_MODEL})
    assert old.model == load_config(saved).model
