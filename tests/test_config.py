from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deepfit.config import Config, load_config
from deepfit.errors import ConfigError
from deepfit.models.registry import architecture_names, model_config_class
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
    for name in architecture_names():  # the model section's keys: each architecture's class
        assert walk(model_config_class(name)) == [], name


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


# ---------------------------------------------------------------- duplicate keys
def test_a_key_set_twice_in_a_section_names_the_file_the_key_and_both_lines(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).splitlines()[1] == (
        f"  - {path}:4: train.lr: set twice, on lines 2 and 4; YAML would silently keep the last"
    )


def test_a_section_set_twice_is_an_error_too(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  epochs: 3\nmodel:\n  hidden: [8]\ntrain:\n  seed: 1\n")
    with pytest.raises(ConfigError, match=rf"{path}:5: train: set twice, on lines 1 and 5"):
        load_config(path)


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    # keys merged in with `<<:` and set again after it are overridden on purpose, not set twice
    path = write_config(tmp_path / "c.yaml", "train:\n  <<: {lr: 0.1, epochs: 3}\n  lr: 0.2\n")
    assert (load_config(path).train.lr, load_config(path).train.epochs) == (0.2, 3)


# ---------------------------------------------------------------- strict types
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("train:\n  epochs: true", "train.epochs: expected a positive integer; got true"),
        ("train:\n  lr: false", "train.lr: expected a positive number or 'auto'; got false"),
        ("model:\n  dropout: true", "model.dropout: expected a number in [0, 1); got true"),
        ("data:\n  split:\n    stratify: 1", "data.split.stratify: expected true or false; got 1"),
        ("train:\n  compile: 0", "train.compile: expected true or false; got 0"),
        ("train:\n  epochs: 2.5", "train.epochs: expected a positive integer; got 2.5"),
        (
            "train:\n  epochs: '3'",
            "train.epochs: expected a positive integer; got '3' (a quoted string: write it without quotes)",
        ),
        ("train:\n  weight_decay: '0.1'", "train.weight_decay: expected a number ≥ 0; got '0.1'"),
        ("data:\n  target: 2020", "data.target: expected a string; got 2020 (write it in quotes)"),
    ],
)
def test_values_are_not_coerced_between_bool_number_and_string(tmp_path: Path, line: str, message: str) -> None:
    path = write_config(tmp_path / "c.yaml", line + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}:{line.count(chr(10)) + 1}: {message}" in str(info.value)


def test_set_values_are_typed_by_yaml_too() -> None:
    with pytest.raises(ConfigError, match=r"--set train\.epochs: train\.epochs: expected a positive integer; got true"):
        load_config(None, ["train.epochs=true"])
    config = load_config(None, ["train.epochs=3", "train.lr=1", "data.split.stratify=false"])
    assert (config.train.epochs, config.train.lr, config.data.split.stratify) == (3, 1.0, False)
    assert type(config.train.lr) is float


def test_exponent_floats_without_a_dot_are_numbers(tmp_path: Path) -> None:
    # PyYAML reads YAML 1.1, where `1e-3` is a string; strict types would refuse it, so the loader reads YAML 1.2's.
    path = write_config(tmp_path / "c.yaml", "train:\n  lr: 1e-3\n  weight_decay: 5E-5\n  optimizer: {eps: 1e8}\n")
    train = load_config(path, ["train.schedule.min_lr=3e-6"]).train
    assert (train.lr, train.weight_decay, train.optimizer.eps, train.schedule.min_lr) == (1e-3, 5e-5, 1e8, 3e-6)


def test_identifiers_lists_and_empty_sections_keep_working(tmp_path: Path) -> None:
    text = (
        "train:\n  optimizer: sgd\n  schedule: {name: step, gamma: 0.5}\n"
        "model:\n  name: gan\n  gan_betas: [0.5, 0.9]\n  hidden: [32, 16]\n"
        "data:\n  image:\n    size: [28, 28]\n  column_types: {x: numeric}\n"
        "eval:\n  # batch_size: 256 (all keys commented out: the section's defaults)\n"
        "tune:\n  timeout: 10m\n  sampler: random\n"
    )
    config = load_config(write_config(tmp_path / "c.yaml", text))
    schedule = config.train.schedule
    assert (config.train.optimizer.name, schedule.name, schedule.gamma) == ("sgd", "step", 0.5)
    assert config.model.gan_betas == (0.5, 0.9) and config.data.image.size == (28, 28)
    assert config.eval.batch_size == 1024 and config.tune.timeout == 600 and config.tune.sampler.name == "random"
    assert load_config(config) == config


# ---------------------------------------------------------------- NaN and infinity
@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("train:\n  lr: .nan\n", 2, "train.lr: expected a finite number; got .nan"),
        ("train:\n  lr: .inf\n", 2, "train.lr: expected a finite number; got .inf"),
        ("model:\n  dropout: .NaN\n", 2, "model.dropout: expected a finite number; got .nan"),
        ("train:\n  weight_decay: -.inf\n", 2, "train.weight_decay: expected a finite number; got -.inf"),
        ("train:\n  epochs: .inf\n", 2, "train.epochs: expected a finite number; got .inf"),
        ("train:\n  optimizer:\n    betas: [0.9, .nan]\n", 3, "train.optimizer.betas.1: expected a finite number"),
        ("tune:\n  space:\n    train.lr: {float: [0.001, .inf]}\n", 3, "tune.space.train.lr.float.1: expected a"),
    ],
)
def test_nan_and_infinity_are_refused_naming_the_key_and_line(
    tmp_path: Path, text: str, where: int, message: str
) -> None:
    path = write_config(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith("1 error in the config:")
    assert f"{path}:{where}: {message}" in str(info.value)


def test_nan_from_set_or_a_dict_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--set train\.lr: train\.lr: expected a finite number; got \.inf"):
        load_config(None, ["train.lr=.inf"])
    with pytest.raises(ConfigError, match=r"config: model\.dropout: expected a finite number; got \.nan"):
        load_config({"model": {"dropout": float("nan")}})


# ---------------------------------------------------------------- one plain message per key
def test_a_bad_union_value_is_one_error_in_plain_words_with_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: builtin:iris\ntrain:\n  epochs: 3\n  lr: fast\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message == (
        f"1 error in the config:\n  - {path}:5: train.lr: expected a positive number or 'auto'; got 'fast'"
    )


def test_type_tags_are_dropped_list_indices_kept(tmp_path: Path) -> None:
    text = (
        "train:\n  optimizer: {name: sgdd}\n  schedule: 5\n"
        "model:\n  hidden:\n    - 8\n    - x\n"
        "output:\n  loggers: [tb]\n"
        "data:\n  image: {size: 28}\n"
    )
    path = write_config(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert lines[1:6] == [
        f"  - {path}:2: train.optimizer.name: unknown optimizer 'sgdd' (did you mean 'sgd'?); "
        "known: sgd, adam, adamw, adagrad, rmsprop",
        f"  - {path}:3: train.schedule: expected a name (constant, step, exponential, cosine, onecycle, plateau) "
        "or a mapping with a name; got 5",
        f"  - {path}:7: model.hidden.1: expected an integer; got 'x'",
        f"  - {path}:9: output.loggers.0: expected 'tensorboard' or 'mlflow'; got 'tb'",
        f"  - {path}:11: data.image.size: expected a list of 2 integers; got 28",
    ]


def test_a_range_error_keeps_its_wording() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, ["train.lr=-1", "model.dropout=1.5"])
    assert "--set train.lr: train.lr: Input should be greater than 0 (got -1)" in str(info.value)
    assert "--set model.dropout: model.dropout: Input should be less than 1 (got 1.5)" in str(info.value)
    assert str(info.value).startswith("2 errors in the config:")


def test_an_unknown_key_of_another_section_names_that_section(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  stratify: false\n  patience: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert lines[1].startswith(
        f"  - {path}:2: train.stratify: unknown key 'stratify' (did you mean 'data.split.stratify'?);"
    )
    assert lines[2].startswith(f"  - {path}:3: train.patience: unknown key 'patience'; allowed: epochs,")  # 3 homes


# ---------------------------------------------------------------- each architecture owns its keys
# A run saved before each architecture had its own class: every key of every architecture, in one section.
OLD_FLAT_MODEL = {
    "name": "mlp",
    "builder": None,
    "max_params": None,
    "hidden": [16],
    "activation": "relu",
    "dropout": 0.1,
    "batch_norm": False,
    "init": "kaiming",
    "embedding_dim": None,
    "rnn_type": "lstm",
    "rnn_hidden": 128,
    "rnn_layers": 1,
    "bidirectional": True,
    "pooling": "auto",
    "d_model": 128,
    "heads": 4,
    "layers": 2,
    "ff_dim": None,
    "positional": "sinusoidal",
    "ngram_buckets": 16384,
    "tabm_k": 32,
    "tabm_width": 512,
    "tabm_blocks": None,
    "tabm_embedding": "piecewise_linear",
    "tabm_bins": 48,
    "channels": [32, 64, 128],
    "blocks": 2,
    "latent_dim": 64,
    "gan_loss": "non_saturating",
    "gan_lr_g": 0.0002,
    "gan_lr_d": 0.0002,
    "gan_betas": [0.5, 0.999],
    "gan_gp_weight": 10.0,
    "gan_n_critic": None,
    "gan_ema": 0.999,
}


def test_an_unknown_key_of_the_chosen_architecture_is_named_with_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "model:\n  name: tabm\n  tabm_kk: 8\n  hidden: [8]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith("2 errors in the config:")
    assert (
        f"{path}:3: model.tabm_kk: unknown key 'tabm_kk' for the tabm architecture (did you mean 'tabm_k'?); "
        "allowed: name, max_params, dropout, init_from, tabm_k," in message
    )
    assert f"{path}:4: model.hidden: unknown key 'hidden' for the tabm architecture (a key of gan, mlp" in message


def test_the_model_section_is_its_architecture_class_with_only_its_keys() -> None:
    from deepfit.config import GANConfig, ModelConfig, RNNConfig, TabMConfig

    config = load_config({"model": {"name": "gru", "rnn_hidden": 16}}, ["model.rnn_layers=2"])
    assert type(config.model) is RNNConfig and (config.model.rnn_hidden, config.model.rnn_layers) == (16, 2)
    keys = ["name", "max_params", "dropout", "rnn_hidden", "rnn_layers", "bidirectional", "init"]
    assert list(config.to_dict()["model"]) == keys
    assert "gan_lr_g" not in config.to_yaml() and "\n  hidden:" not in config.to_yaml()
    assert load_config(config) == config
    # ModelConfig(name=...) builds that architecture's class; a class refuses another architecture's name
    assert type(ModelConfig(name="tabm", tabm_k=4)) is TabMConfig and ModelConfig(name="gan").gan_ema == 0.999
    with pytest.raises(ValueError, match="GANConfig is not the config of the 'mlp' architecture"):
        GANConfig(name="mlp")


def test_auto_takes_every_family_key_and_keeps_only_what_was_set() -> None:
    from deepfit.config import AutoModelConfig

    config = load_config({"model": {"hidden": [32], "rnn_hidden": 8}})
    assert type(config.model) is AutoModelConfig
    assert config.to_dict()["model"] == {
        "name": "auto",
        "max_params": None,
        "dropout": 0.1,
        "hidden": [32],
        "rnn_hidden": 8,
    }
    again = load_config(config)  # a round trip keeps "the keys the user set": they choose the family
    assert again.model.model_fields_set == {"name", "max_params", "dropout", "hidden", "rnn_hidden"}
    with pytest.raises(ConfigError, match=r"model.gan_lr_g: unknown key 'gan_lr_g' \(a key of gan: set model.name"):
        load_config({"model": {"gan_lr_g": 0.001}})


def test_an_old_flat_saved_config_loads_as_a_run_but_not_as_a_users_config() -> None:
    from deepfit.config import MLPConfig, load_saved_config, saved_model_config

    model = saved_model_config(OLD_FLAT_MODEL)
    assert type(model) is MLPConfig and model.hidden == [16]
    config = load_saved_config({"data": {"source": "builtin:iris"}, "model": OLD_FLAT_MODEL})
    assert type(config.model) is MLPConfig and "tabm_k" not in config.to_dict()["model"]
    with pytest.raises(ConfigError, match=r"model\.tabm_k: unknown key 'tabm_k' for the mlp architecture"):
        load_config({"model": OLD_FLAT_MODEL})
    gan = saved_model_config({**OLD_FLAT_MODEL, "name": "gan", "gan_betas": [0.5, 0.9]})
    assert gan.gan_betas == (0.5, 0.9) and not hasattr(gan, "tabm_k")
    custom = saved_model_config({**OLD_FLAT_MODEL, "name": "custom", "builder": "nets.py:build"})
    assert custom.builder == "nets.py:build" and custom.hidden == [16]  # a custom builder may read any key
    with pytest.raises(ConfigError, match="the run's architecture 'wide' is not registered"):
        saved_model_config({"name": "wide"})


def test_config_show_lists_the_chosen_architectures_keys_only(capsys: pytest.CaptureFixture[str]) -> None:
    from deepfit.cli import main

    assert main(["config", "show", "--set", "model.name=tabm"]) == 0
    model = yaml.safe_load(capsys.readouterr().out)["model"]
    assert model["tabm_k"] == 32 and "hidden" not in model and "gan_lr_g" not in model
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load(out)["model"] == {"name": "auto", "max_params": None, "dropout": 0.1}
    assert "# auto: the architecture is chosen from the data" in out and "tabm" in out
