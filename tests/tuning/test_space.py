"""The search space: parsing, errors that name the key, grids, and the tune section of the config."""

from __future__ import annotations

import optuna
import pytest
import yaml

from deepfit.config import load_config
from deepfit.errors import ConfigError
from deepfit.tuning.space import check_keys, decode_params, grid_space, parse_space, suggest_all

IRIS = {"data": {"source": "builtin:iris", "target": "target"}}


def test_parses_each_kind_into_optuna_suggestions():
    params = parse_space(
        {
            "train.lr": {"float": [1e-4, 1e-1], "log": True},
            "train.batch_size": {"int": [16, 256], "step": 16},
            "model.hidden": {"choice": [[128], [256, 256]]},
        }
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = suggest_all(trial, params)
    assert 1e-4 <= values["train.lr"] <= 1e-1
    assert values["train.batch_size"] % 16 == 0 and 16 <= values["train.batch_size"] <= 256
    assert values["model.hidden"] in ([128], [256, 256])
    # Optuna stores a list choice as its JSON text; decoding gives the config value back.
    assert trial.params["model.hidden"] in ("[128]", "[256, 256]")
    assert decode_params(params, trial.params) == values


def test_yaml_exponents_without_a_dot_are_numbers():
    # PyYAML loads `1e-4` as the string "1e-4" (YAML 1.1 wants a dot); the space reads it as a number.
    raw = yaml.safe_load("train.lr: {float: [1e-4, 1e-1], log: true}\ntrain.wd: {choice: [0, 1e-5]}")
    assert raw["train.lr"]["float"] == ["1e-4", "1e-1"]
    lr, wd = parse_space(raw)
    assert (lr.low, lr.high, lr.log) == (1e-4, 1e-1, True)
    assert wd.choices == (0, 1e-5)
    with pytest.raises(ValueError, match=r"train\.lr: float takes \[low, high\] as two numbers"):
        parse_space({"train.lr": {"float": ["small", 0.1]}})


def test_low_above_high_is_rejected_on_load_naming_the_key():
    with pytest.raises(ConfigError, match=r"tune\.space: train\.lr: low 0\.1 is above high 0\.001"):
        load_config({**IRIS, "tune": {"space": {"train.lr": {"float": [0.1, 0.001]}}}})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"float": [0.0, 1.0], "lg": True}, "unknown option 'lg' (did you mean 'log'?)"),
        ({"float": [0.0, 1.0], "int": [0, 1]}, "give exactly one of float, int, choice"),
        ({"float": [0.0, 1.0], "log": True}, "a log range needs low > 0"),
        ({"int": [16, 250], "step": 16}, "not a whole number of steps of 16; end at 240 or 256"),
        ({"int": [1.5, 4]}, "int takes [low, high] as two integers"),
        ({"choice": []}, "choice takes a non-empty list"),
        ({"choice": [1, 1]}, "lists a value twice"),
        ({"float": [0.1, 1.0], "log": True, "step": 0.1}, "log and step cannot be combined"),
    ],
)
def test_bad_dimensions_name_the_key(spec, message):
    with pytest.raises(ValueError) as info:
        parse_space({"train.x": spec})
    assert str(info.value).startswith("train.x: ")
    assert message in str(info.value)


def test_unknown_key_is_rejected_with_a_suggestion():
    config = load_config(IRIS)
    params = parse_space({"train.lrr": {"float": [0.001, 0.1]}, "train.lr": {"float": [0.001, 0.1]}})
    with pytest.raises(ConfigError) as info:
        check_keys(config, params)
    text = str(info.value)
    assert "tune.space.train.lrr" in text and "did you mean 'lr'" in text
    assert "tune.space.train.lr:" not in text  # the good key is not blamed


def test_a_bound_the_config_does_not_accept_is_rejected():
    config = load_config(IRIS)
    with pytest.raises(ConfigError, match=r"tune\.space\.model\.dropout: the value 1\.5 is rejected"):
        check_keys(config, parse_space({"model.dropout": {"float": [0.0, 1.5]}}))
    with pytest.raises(ConfigError, match=r"tune\.space\.model\.activation: the value 'swish'"):
        check_keys(config, parse_space({"model.activation": {"choice": ["relu", "swish"]}}))
    with pytest.raises(ConfigError, match="cannot be tuned"):
        check_keys(config, parse_space({"tune.seed": {"int": [0, 3]}}))


def test_grid_enumerates_choices_and_stepped_ranges_only():
    params = parse_space(
        {
            "model.hidden": {"choice": [[16], [32, 16]]},
            "train.batch_size": {"int": [16, 64], "step": 16},
            "model.dropout": {"float": [0.0, 0.3], "step": 0.1},
        }
    )
    assert grid_space(params) == {
        "model.hidden": ["[16]", "[32, 16]"],
        "train.batch_size": [16, 32, 48, 64],
        "model.dropout": [0.0, 0.1, 0.2, 0.3],
    }
    with pytest.raises(ConfigError, match=r"tune\.space\.train\.lr: a float range has no grid"):
        grid_space(parse_space({"train.lr": {"float": [0.001, 0.1], "log": True}}))


def test_tune_section_defaults_and_durations():
    tune = load_config(IRIS).tune
    assert (tune.metric, tune.direction, tune.sampler.name, tune.pruner.name) == ("auto", "auto", "bayesian", "median")
    assert tune.trials is None and tune.space == {}
    assert load_config(IRIS, ["tune.timeout=10m"]).tune.timeout == 600
    assert load_config(IRIS, ["tune.timeout=1.5h"]).tune.timeout == 5400
    assert load_config(IRIS, ["tune.timeout=45"]).tune.timeout == 45
    assert load_config(IRIS, ["tune.sampler=random"]).tune.sampler.name == "random"
    with pytest.raises(ConfigError, match="duration such as"):
        load_config(IRIS, ["tune.timeout=soon"])
    with pytest.raises(ConfigError, match="did you mean 'f1_macro'"):
        load_config(IRIS, ["tune.metric=f1_macr"])


def test_model_keys_are_checked_against_the_architecture():
    mlp = load_config({**IRIS, "model": {"name": "mlp"}})
    check_keys(mlp, parse_space({"model.hidden": {"choice": [[16], [32, 16]]}}))
    check_keys(load_config(IRIS), parse_space({"model.hidden": {"choice": [[16]]}, "model.tabm_k": {"int": [4, 32]}}))
    tabm = load_config({**IRIS, "model": {"name": "tabm"}})
    with pytest.raises(
        ConfigError, match=r"tune\.space\.model\.hidden: unknown key 'hidden' for the tabm architecture"
    ):
        check_keys(tabm, parse_space({"model.hidden": {"choice": [[16]]}}))
    both = parse_space({"model.name": {"choice": ["mlp", "tabm"]}, "model.hidden": {"choice": [[16]]}})
    with pytest.raises(ConfigError, match=r"tune\.space\.model\.hidden: with model\.name tabm: unknown key 'hidden'"):
        check_keys(mlp, both)
