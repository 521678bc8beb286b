"""deepfit.registry: one shape for every family a config names; optimizers, schedules and losses on it."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections import Counter
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch
from torch import nn

import deepfit
from deepfit.config import load_config
from deepfit.errors import ConfigError
from deepfit.evaluation.registry import METRICS, MetricInfo
from deepfit.registry import Registry
from deepfit.training.registry import LOSSES, OPTIMIZERS, SCHEDULES
from deepfit.training.schedules import lr_factor
from tests.conftest import write_config


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test registers is gone after it (other tests list the built-in names exactly)."""
    for registry in (OPTIMIZERS, SCHEDULES, LOSSES):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))


# ---------------------------------------------------------------- the Registry class
def test_a_lazy_entry_is_imported_on_first_get_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deepfit_lazy_thing.py").write_text("def make():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "deepfit_lazy_thing", raising=False)
    things = Registry("thing", {"lazy": "deepfit_lazy_thing:make"})
    assert "lazy" in things and things.check("lazy") == "lazy" and things.names() == ["lazy"]
    assert "deepfit_lazy_thing" not in sys.modules  # looking a name up imports nothing
    assert things.get("lazy")() == 42
    assert "deepfit_lazy_thing" in sys.modules
    monkeypatch.delitem(sys.modules, "deepfit_lazy_thing")


def test_checking_a_config_imports_no_torch() -> None:
    code = (
        "import sys; from deepfit.config import load_config; "
        "load_config({'train': {'optimizer': 'sgd', 'schedule': 'step', 'loss': 'mae'}}); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unknown_name_says_the_family_a_close_name_and_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        OPTIMIZERS.get("adamm")
    assert str(info.value) == (
        "train.optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?); known: sgd, adam, adamw, adagrad, "
        "rmsprop"
    )
    with pytest.raises(ValueError, match=r"^unknown schedule 'zzz'; known: constant, step, "):
        SCHEDULES.check("zzz")  # what config validators raise (pydantic reports a ValueError at its key)


def test_register_is_also_a_decorator_and_keeps_registration_order() -> None:
    colours = Registry("colour", {"red": "colorsys:rgb_to_hsv"})

    @colours.register("blue")
    def blue() -> str:
        return "blue"

    assert blue() == "blue" and colours.get("blue") is blue  # the decorated function is unchanged
    assert colours.names() == ["red", "blue"] == list(colours) and len(colours) == 2
    import colorsys

    assert colours["red"] is colorsys.rgb_to_hsv


def test_a_bad_registration_is_refused_and_an_unimportable_one_named() -> None:
    things = Registry("thing")
    with pytest.raises(ValueError, match=r"must be an object or a 'package\.module:attr' string\. Got 'nothing'"):
        things.register("x", "nothing")
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        things.register("", len)
    things.register("gone", "deepfit_no_such_module:make")
    with pytest.raises(ConfigError, match="the thing 'gone' is registered as 'deepfit_no_such_module:make', which"):
        things.get("gone")


def test_installed_plugins_are_read_once_on_the_first_name_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []

    def entry_points(group: str) -> list[EntryPoint]:
        reads.append(group)
        return [EntryPoint("plug", "os.path:basename", group), EntryPoint("mine", "os.path:dirname", group)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    things = Registry("thing", {"builtin": "os.path:join"}, entry_points="deepfit.things")
    things.register("mine", len)
    assert things.check("builtin") == "builtin" and reads == []  # a built-in name costs no scan
    assert "plug" in things and reads == ["deepfit.things"]
    assert things.names() == ["builtin", "mine", "plug"] and things.get("plug") is os.path.basename
    assert things.get("mine") is len  # a registration from Python beats a plugin's
    assert "nothing" not in things and reads == ["deepfit.things"]  # read once


def test_metrics_sit_on_the_registry() -> None:
    assert isinstance(METRICS, Registry) and METRICS.get("rmse") == MetricInfo("rmse", greater_is_better=False)
    assert "accuracy" in METRICS and "val_accuracy" not in METRICS


# ---------------------------------------------------------------- config names checked against the registries
def test_an_unknown_name_in_a_yaml_config_is_one_error_at_its_line(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "train:\n  epochs: 3\n  loss: hubber\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.message == (
        f"1 error in the config:\n  - {path}:3: train.loss: unknown loss 'hubber' (did you mean 'huber'?); "
        "known: auto, cross_entropy, mse, mae, huber"
    )


def test_a_name_of_the_wrong_kind_lists_the_registered_names() -> None:
    with pytest.raises(ConfigError, match=r"train.loss: expected a registered loss \(auto, cross_entropy, mse, mae"):
        load_config(None, ["train.loss=5"])
    with pytest.raises(ConfigError, match=r"train.schedule: expected a name \(constant, step, exponential, cosine,"):
        load_config(None, ["train.schedule=5"])


def test_a_registered_name_validates_and_is_suggested(registries: None) -> None:
    deepfit.register_optimizer("lion", "torch.optim:SGD")  # a lazy path is fine too
    assert load_config({"train": {"optimizer": "lion"}}).train.optimizer.name == "lion"
    with pytest.raises(ConfigError, match=r"unknown optimizer 'lino' \(did you mean 'lion'\?\); known: .*, lion"):
        load_config({"train": {"optimizer": "lino"}})


# ---------------------------------------------------------------- users' own optimizer, schedule and loss
class CountingSGD(torch.optim.SGD):
    steps = 0

    def step(self, closure=None):
        CountingSGD.steps += 1
        return super().step(closure)


def test_registered_optimizer_schedule_and_loss_train_by_name(tmp_path: Path, registries: None) -> None:
    calls: Counter[str] = Counter()

    @deepfit.register_optimizer("counting_sgd")
    def counting_sgd(groups: list, lr: float, config) -> torch.optim.Optimizer:
        calls["optimizer"] += 1
        return CountingSGD(groups, lr=lr, momentum=config.momentum)

    @deepfit.register_schedule("half")
    def half(step: int, total_steps: int, steps_per_epoch: int, config) -> float:
        calls["schedule"] += 1
        return 0.5

    class CountingLoss(nn.CrossEntropyLoss):
        def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            calls["loss"] += 1
            return super().forward(output, target)

    deepfit.register_loss("counting_ce", lambda config, task, class_counts: CountingLoss())
    CountingSGD.steps = 0
    config = {
        "data": {"source": "builtin:iris"},
        "model": {"name": "mlp", "hidden": [8]},
        "train": {"epochs": 2, "lr": 0.02, "optimizer": "counting_sgd", "schedule": "half", "loss": "counting_ce"},
    }
    result = deepfit.train(config, run_dir=tmp_path / "run", verbose=False)
    assert calls["optimizer"] >= 1 and CountingSGD.steps > 0 and calls["loss"] > 0 and calls["schedule"] > 0
    assert [row["lr"] for row in result.history] == pytest.approx([0.01, 0.01])  # 0.5 x train.lr
    saved = (result.run_dir / "config.yaml").read_text()
    assert "name: counting_sgd" in saved and "name: half" in saved and "loss: counting_ce" in saved


def test_a_registered_schedule_starts_after_the_warmup(registries: None) -> None:
    deepfit.register_schedule("tenth", lambda step, total, per_epoch, config: 0.1)
    config = load_config({"train": {"schedule": {"name": "tenth", "warmup_epochs": 1}}}).train.schedule
    assert [lr_factor(s, 100, 4, config) for s in (0, 3, 4, 50)] == pytest.approx([0.2, 0.8, 0.1, 0.1])
