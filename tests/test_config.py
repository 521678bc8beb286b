from __future__ import annotations

from pathlib import Path

import pytest

from deepfit.config import Config, load_config
from deepfit.errors import ConfigError
from tests.conftest import write_config


def test_defaults_are_complete_and_valid() -> None:
    config = load_config()
    assert isinstance(config, Config)
    assert config.train.optimizer.name == "adamw"
    assert config.data.split.train + config.data.split.validation + config.data.split.test == pytest.approx(1)


def test_every_field_has_a_description() -> None:
    def walk(model: type) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += [f"{name}.{m}" for m in walk(annotation)]
            elif not field.description:
                missing.append(name)
        return missing

    assert walk(Config) == []


def test_unknown_key_suggests_and_names_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: builtin:iris\ntrain:\n  epoch: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}:4: train.epoch: unknown key 'epoch' (did you mean 'epochs'?)" in message


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        "train:\n  lr: -1\n  batch_size: zero\ndata:\n  split: {train: 0.5, validation: 0.1, test: 0.1}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith("3 errors in the config:")
    assert "train.lr: Input should be greater than 0 (got -1)" in message
    assert "train.batch_size:" in message and "'zero'" in message
    assert "split fractions must sum to 1" in message and "= 0.7" in message


def test_set_overrides_parse_yaml_values() -> None:
    config = load_config(None, ["train.lr=3e-4", "model.hidden=[256,256]", "train.optimizer=sgd"])
    assert config.train.lr == pytest.approx(3e-4)
    assert config.model.hidden == [256, 256]
    assert config.train.optimizer.name == "sgd"


def test_set_on_a_string_identifier_keeps_its_name() -> None:
    config = load_config({"train": {"optimizer": "sgd"}}, ["train.optimizer.nesterov=true"])
    assert config.train.optimizer.name == "sgd" and config.train.optimizer.nesterov


def test_set_unknown_key_is_named() -> None:
    with pytest.raises(
        ConfigError, match=r"--set model.hiden: model.hiden: unknown key 'hiden' \(did you mean 'hidden'\?\)"
    ):
        load_config(None, ["model.hiden=[8]"])


def test_unknown_architecture_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown architecture 'mpl' \(did you mean 'mlp'\?\); known: .*\bmlp\b"):
        load_config({"model": {"name": "mpl"}})


def test_unknown_monitor_metric_is_rejected() -> None:
    with pytest.raises(ConfigError, match="did you mean 'accuracy'"):
        load_config({"train": {"early_stopping": {"monitor": "acuracy"}}})


def test_data_path_is_relative_to_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write_config(tmp_path / "sub" / "c.yaml", "data:\n  source: data.csv\n")
    config = load_config(path)
    assert config.resolve_path(config.data.source) == tmp_path / "sub" / "data.csv"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  lr: [1,\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: not valid YAML"):
        load_config(path)


def test_resolved_yaml_round_trips() -> None:
    config = load_config(None, ["train.lr=0.01"])
    assert load_config(__import__("yaml").safe_load(config.to_yaml())) == config
