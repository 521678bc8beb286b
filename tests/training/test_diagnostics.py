"""Diagnostics: each detector is provoked by a small model built to fail that way, and a healthy run
reports nothing (so no detector can pass by always firing). CPU only, tiny synthetic data."""

from __future__ import annotations

import io
import json
import random
import re
from itertools import pairwise
from types import SimpleNamespace

import pytest
import torch
import yaml
from rich.console import Console
from torch import nn

from deepfit import Trainer, TrainingError
from deepfit.config import DiagnosticsConfig, flatten, load_config
from deepfit.data.batches import TensorData
from deepfit.errors import ConfigError
from deepfit.training import findings as findings_module
from deepfit.training.diagnostics import DIAGNOSTICS, GRAD_NORMS, Diagnostics
from deepfit.training.findings import (
    Settings,
    dead_relus,
    divergence,
    exploding_gradients,
    non_finite_gradients,
    overfitting,
    underfitting,
    vanishing_gradients,
)

# Plain settings so that each test controls exactly what goes wrong.
PLAIN = {"schedule": "constant", "weight_decay": 0.0, "device": "cpu", "early_stopping": {"enabled": False}}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Models this small run fastest on one thread: OpenMP hand-offs dominate them, many times over
    # on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers at the even indices 0, 2, 4, ... of the Sequential, activations between."""
    layers: list[nn.Module] = []
    for n_in, n_out in pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])


def fit(model, train, val=None, diagnostics=None, **train_config) -> Diagnostics:
    diagnostics = diagnostics or Diagnostics(config={"every_n_steps": 1})
    Trainer({**PLAIN, **train_config}, callbacks=[diagnostics]).fit(model, train, val)
    return diagnostics


def kinds(diagnostics: Diagnostics) -> list[str]:
    return [f.kind for f in diagnostics.findings]


def finding(diagnostics: Diagnostics, kind: str):
    return next(f for f in diagnostics.findings if f.kind == kind)


def separable(n: int, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorData((x,), (x[:, 0] + x[:, 1] > 0).long())


# ---------------------------------------------------------------- healthy runs: no finding
def test_healthy_linear_regression_reports_nothing():
    torch.manual_seed(0)
    x = torch.rand(256, 1) * 2 - 1
    model = nn.Linear(1, 1)
    diag = fit(model, TensorData((x,), 2 * x + 3), epochs=30, batch_size=32, lr=0.05, optimizer="sgd")
    assert diag.findings == []
    assert model.weight.item() == pytest.approx(2.0, abs=1e-2) and model.bias.item() == pytest.approx(3.0, abs=1e-2)
    assert len(diag.rows) == 30 * 8 and "no problems found" in diag.summary_lines()[0]


def test_healthy_classifier_reports_nothing():
    # Separable data fitted to near-zero loss: spiky late gradients and a slowly rising validation
    # loss (growing confidence) are normal and must not be reported.
    diag = fit(mlp([4, 32, 32, 2]), separable(384), separable(128, seed=1), epochs=20, batch_size=32, lr=1e-2)
    assert diag.findings == []


# ---------------------------------------------------------------- one model per failure
def test_vanishing_gradients_in_a_deep_sigmoid_mlp():
    torch.manual_seed(0)
    data = separable(256)
    data = TensorData((torch.cat([data.inputs[0]] * 2, dim=1),), data.target)
    diag = fit(mlp([8] + [32] * 10 + [2], nn.Sigmoid), data, epochs=2, batch_size=64, lr=1e-3)
    found = finding(diag, "vanishing_gradients")
    assert found.epoch == 1 and found.layers[:2] == ["0", "2"]
    assert "layers 0, 2" in found.message and "output layer 20" in found.message
    assert "model.batch_norm: true" in found.fix and "model.activation: relu (the model uses Sigmoid)" in found.fix
    assert found.fix.endswith("fewer layers (model.hidden)")
    assert found.line().startswith("epoch 1, vanishing gradients: ")


def test_exploding_gradients_and_divergence_with_a_huge_learning_rate():
    # Unnormalised inputs (0..10) and plain SGD above its stability limit: the loss grows ~1.8x a step
    # and stays finite for these 20 steps.
    torch.manual_seed(0)
    x = torch.rand(64, 1) * 10
    diag = fit(
        nn.Linear(1, 1),
        TensorData((x,), 2 * x + 3),
        epochs=20,
        batch_size=64,
        lr=0.04,
        optimizer={"name": "sgd", "momentum": 0.0},
    )
    assert {"divergence", "exploding_gradients"} <= set(kinds(diag))
    div = finding(diag, "divergence")
    assert div.severity == "error" and f"at epoch {div.epoch}" in div.message
    assert "train.lr: 0.004 (now 0.04)" in div.fix and "train.clip_grad_norm" in div.fix
    exploding = finding(diag, "exploding_gradients")
    assert exploding.layers == ["Linear"] and "train.clip_grad_norm: 1.0" in exploding.fix


@pytest.mark.parametrize("every", [1, 10_000])
def test_non_finite_gradients_are_recorded_before_the_trainer_stops(tmp_path, every):
    # lr far past the limit: the loss overflows within the first epoch and the trainer raises.
    # Sampled (every=1) or not (every=10000: only the look at the last gradients after the failure),
    # the finding is recorded and diagnostics.json is written.
    torch.manual_seed(0)
    x = torch.rand(64, 1) * 10
    diag = Diagnostics(tmp_path, config={"every_n_steps": every})
    with pytest.raises(TrainingError):
        fit(
            nn.Linear(1, 1),
            TensorData((x,), 2 * x + 3),
            diagnostics=diag,
            epochs=1,
            batch_size=1,
            lr=1.0,
            optimizer="sgd",
        )
    found = finding(diag, "non_finite_gradients")
    assert found.severity == "error" and found.layers == ["Linear"] and "train.clip_grad_norm" in found.fix
    assert found.line().startswith("epoch 1, inf/NaN gradients: ") and "at step " in found.message
    saved = json.loads((tmp_path / DIAGNOSTICS).read_text())
    assert "non_finite_gradients" in [f["kind"] for f in saved["findings"]]


def test_overfitting_on_a_tiny_noisy_dataset():
    torch.manual_seed(0)
    train = TensorData((torch.randn(32, 20),), torch.randn(32, 1))  # pure noise: nothing to generalise
    val = TensorData((torch.randn(64, 20),), torch.randn(64, 1))
    diag = fit(mlp([20, 256, 256, 1]), train, val, epochs=40, batch_size=32, lr=3e-3)
    assert kinds(diag) == ["overfitting"]
    found = finding(diag, "overfitting")
    # seen at the first window whose validation loss is twice the training loss, before it even rises
    assert found.epoch == 6 and "(5-epoch mean, epochs 2–6) is 1.128 against a training loss of 0.5438" in found.message
    assert "2.1 times as high, a gap of 0.5843 (53% of the first epoch's training loss, 1.105)" in found.message
    assert "model.dropout: 0.2 (now 0.0)" in found.fix and "train.weight_decay: 0.0001 (now 0.0)" in found.fix
    assert "train.early_stopping.enabled: true (it keeps the epoch-3 weights)" in found.fix  # no config: a bare Trainer


def test_underfitting_with_a_tiny_learning_rate():
    diag = Diagnostics(config={"every_n_steps": 1}, n_classes=2)
    diag = fit(mlp([4, 32, 2]), separable(256), diagnostics=diag, epochs=6, batch_size=64, lr=1e-7)
    assert kinds(diag) == ["underfitting"]
    found = finding(diag, "underfitting")
    assert found.epoch == 5 and "after 5 epochs" in found.message and "chance level for 2 classes" in found.message
    assert "train.lr: 1e-06 (now 1e-07)" in found.fix


def test_dead_relus_from_a_large_negative_bias():
    torch.manual_seed(0)
    model = mlp([4, 64, 64, 2])
    with torch.no_grad():
        model[0].bias.fill_(-10.0)  # every pre-activation of the first layer is negative
    diag = fit(model, separable(256), epochs=2, batch_size=64, lr=1e-3)
    found = finding(diag, "dead_relus")
    assert found.layers == ["0"] and "the ReLUs after layer 0 (100%)" in found.message
    assert "model.activation: leaky_relu" in found.fix
    assert diag.rows[0]["dead_fraction"]["0"] == 1.0


# ---------------------------------------------------------------- the callback's mechanics
def test_files_sampling_and_printing(tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=400, highlight=False)
    diag = Diagnostics(tmp_path, config={"every_n_steps": 3}, console=console)
    model = mlp([4, 16, 2], nn.Sigmoid)
    with torch.no_grad():
        model[2].weight.mul_(1e-5)  # a tiny head passes back tiny gradients: one finding to print
    fit(model, separable(128), diagnostics=diag, epochs=2, batch_size=16)  # 8 steps an epoch
    rows = [json.loads(line) for line in (tmp_path / GRAD_NORMS).read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 3, 6, 9, 12, 15]
    assert [r["epoch"] for r in rows] == [1, 1, 1, 2, 2, 2]
    assert set(rows[0]["grad_norm"]) == {"0", "2"} and set(rows[0]["update_ratio"]) == {"0", "2"}
    saved = json.loads((tmp_path / DIAGNOSTICS).read_text())
    assert saved["summary"]["samples"] == 6 and saved["summary"]["epochs"] == 2
    assert [f["kind"] for f in saved["findings"]] == kinds(diag)
    assert out.getvalue().count("vanishing gradients") == 1  # printed once, not at every sample
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_diagnostics_do_not_change_training():
    def weights(callbacks):
        torch.manual_seed(0)
        model = mlp([4, 16, 16, 2])
        Trainer({**PLAIN, "epochs": 2, "batch_size": 32}, callbacks=callbacks).fit(model, separable(128))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(weights([]), weights([Diagnostics(config={"every_n_steps": 1})]))


# ---------------------------------------------------------------- detectors as pure functions
def test_overfitting_ignores_a_small_rise_after_a_large_improvement():
    config = DiagnosticsConfig()
    history = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.3}]
    history += [{"epoch": e, "train_loss": 0.05 / e, "val_loss": 0.02 + 0.001 * e} for e in range(2, 12)]
    assert overfitting(history, config) is None  # val 0.02 -> 0.03: confidence, not memorisation
    history += [{"epoch": e, "train_loss": 0.001, "val_loss": 0.3} for e in range(12, 18)]
    assert overfitting(history, config).kind == "overfitting"


def test_underfitting_needs_a_flat_curve_or_chance_level():
    config = DiagnosticsConfig(patience=3)
    flat = [{"train_loss": 0.69} for _ in range(3)]
    assert underfitting(flat, config, 1e-3).kind == "underfitting"
    converged = [{"train_loss": 0.02} for _ in range(3)]  # flat, but far below chance: learned in epoch 1
    assert underfitting(converged, config, 1e-3, n_classes=2) is None
    rising = [{"train_loss": v} for v in (0.7, 1.0, 1.4)]  # rising is divergence's business
    assert underfitting(rising, config, 1e-3) is None


def test_fixes_name_the_size_key_of_the_architecture():
    from deepfit.models.registry import size_key

    flat = [{"train_loss": 0.69} for _ in range(3)]
    assert (
        "a bigger model (model.channels)"
        in underfitting(flat, DiagnosticsConfig(patience=3), 1e-3, size_key=size_key("cnn")).fix
    )
    assert "model.rnn_hidden" in underfitting(flat, DiagnosticsConfig(patience=3), 1e-3, size_key=size_key("gru")).fix
    assert size_key("mlp") == "model.hidden" and size_key("someone_elses") == "model.hidden"


def test_underfitting_that_recovers_is_downgraded_at_the_end():
    slow = [{"epoch": e, "train_loss": 1.0 - 0.01 * e} for e in range(1, 6)]
    optimizer = SimpleNamespace(param_groups=[{"lr": 1e-3}])
    diag = Diagnostics(config={"patience": 5})
    diag.on_epoch_end(SimpleNamespace(history=slow, schedule=None, optimizer=optimizer, step=0, epoch=5, extra={}))
    assert finding(diag, "underfitting").severity == "warning"
    slow += [{"epoch": e, "train_loss": 0.1} for e in range(6, 9)]
    diag.on_fit_end(SimpleNamespace(history=slow, schedule=None, optimizer=optimizer))
    found = finding(diag, "underfitting")
    assert found.severity == "info" and found.message.endswith("It learned later: training loss 0.1 at epoch 8.")


def test_config_section():
    cfg = load_config({"train": {"diagnostics": {"every_n_steps": 20, "enabled": False}}})
    assert cfg.train.diagnostics.every_n_steps == 20 and not cfg.train.diagnostics.enabled
    with pytest.raises(ConfigError, match="every_n_step"):
        load_config({"train": {"diagnostics": {"every_n_step": 20}}})


# ---------------------------------------------------------------- a train/validation gap is overfitting
def flat_gap(train: float, val: float, epochs: int = 8, first: tuple[float, float] = (0.69, 0.68)) -> list[dict]:
    """A first epoch at ``first`` (train, val), then flat losses: validation never rises."""
    history = [{"epoch": 1, "train_loss": first[0], "val_loss": first[1]}]
    return history + [{"epoch": e, "train_loss": train, "val_loss": val} for e in range(2, epochs + 1)]


def test_a_large_gap_is_overfitting_even_when_validation_loss_does_not_rise():
    # The tester's run: training loss 0.05 against validation loss 0.23, flat; it said "no problems found".
    found = overfitting(flat_gap(0.05, 0.23), DiagnosticsConfig(), n_classes=2)
    assert found.kind == "overfitting" and found.epoch == 8
    assert found.message == (
        "validation loss (5-epoch mean, epochs 4–8) is 0.23 against a training loss of 0.05: 4.6 times as high, a "
        "gap of 0.18 (26% of chance level for 2 classes, 0.693). The model fits its training data far better than "
        "data it has not seen."
    )
    regression = overfitting(flat_gap(0.05, 0.23, first=(1.0, 0.9)), DiagnosticsConfig())  # no classes: epoch 1
    assert "(18% of the first epoch's training loss, 1)" in regression.message


def test_the_callback_reports_the_gap_instead_of_no_problems():
    optimizer = SimpleNamespace(param_groups=[{"lr": 1e-3}])
    diag = Diagnostics(n_classes=2)
    history = flat_gap(0.05, 0.23)
    diag.on_epoch_end(SimpleNamespace(history=history, schedule=None, optimizer=optimizer, step=0, epoch=8, extra={}))
    assert kinds(diag) == ["overfitting"]
    assert diag.summary_lines()[0].startswith("epoch 8, overfitting: validation loss (5-epoch mean")


@pytest.mark.parametrize(
    ("train", "val", "n_classes", "first"),
    [
        (0.001, 0.01, 2, (0.69, 0.68)),  # ten times, but 0.009 nats: a near-perfect classifier's noise
        (0.005, 0.06, 2, (0.69, 0.68)),  # 0.055 < 0.069, a tenth of ln 2
        (0.2, 0.35, 2, (0.69, 0.68)),  # a gap, but less than twice the training loss
        (0.01, 0.05, None, (0.5, 0.2)),  # regression: 0.04 < a tenth of the first epoch's 0.5
    ],
)
def test_small_gaps_are_not_overfitting(train, val, n_classes, first):
    assert overfitting(flat_gap(train, val, first=first), DiagnosticsConfig(), n_classes=n_classes) is None


# ---------------------------------------------------------------- no fix proposes what the run already has
KEY = r"(?:model|train|data)\.[a-z_.]*[a-z_]"
ADVICE = re.compile(rf"\b({KEY}): ([^\s,()]+)")  # key: value, as the fix writes it
GAP = flat_gap(0.05, 0.23)


def every_finding(settings: Settings) -> list:
    """Each detector, given numbers that make it fire, and ``settings``."""
    c = DiagnosticsConfig(patience=3)
    return [
        non_finite_gradients({"0": float("nan"), "2": 1.0}, 1, 5, 1e-3, settings),
        vanishing_gradients({"0": 1e-9, "2": 1.0}, 1, 1e3, ["Sigmoid"], False, "model.hidden", settings),
        exploding_gradients({"0": 100.0}, [{"0": 1.0}] * 3, 1.0, 2, 10.0, 1e-3, settings),
        divergence([{"train_loss": v} for v in (1.0, 2.0, 5.0)], c, 1e-3, settings),
        overfitting(GAP, DiagnosticsConfig(), "model.hidden", settings, 2),
        underfitting([{"train_loss": 0.69}] * 3, c, 1e-3, 2, "model.hidden", settings),
        dead_relus({"0": 1.0}, 1, 0.5, settings, 1e-3),
    ]


def current_settings():
    """Configs over every value a fix proposes (dotted keys), and some that only the model shows."""
    values = {
        "train.early_stopping.enabled": [True, False],
        "train.early_stopping.restore_best": [True, False],
        "model.dropout": [0.0, 0.2, 0.5],
        "train.weight_decay": [0.0, 1e-4, 0.1],
        "model.batch_norm": [True, False],
        "model.activation": ["relu", "leaky_relu", "gelu", "tanh"],
        "model.init": ["kaiming", "xavier"],
        "train.clip_grad_norm": [None, 0.5, 1.0, 5.0],
        "data.preprocess.scaling": ["standard", "minmax"],
    }
    rng = random.Random(0)  # 300 of the 4,608 combinations: every pair of values shows up together
    for _ in range(300):
        yield Settings({key: rng.choice(options) for key, options in values.items()})
    for i in range(4):  # and each value with the others at their first, second, ... value
        yield Settings({key: options[min(i, len(options) - 1)] for key, options in values.items()})
    observed = {"model.batch_norm": True, "model.dropout": 0.5, "train.weight_decay": 0.1}
    yield Settings(None, observed)
    yield Settings(load_config({"model": {"name": "mlp"}}), observed)
    yield Settings(load_config({"model": {"name": "mlp", "batch_norm": True, "activation": "gelu", "init": "xavier"}}))


def test_no_finding_proposes_a_value_its_run_already_has():
    detectors = {
        name
        for name, f in vars(findings_module).items()
        if callable(f) and getattr(f, "__annotations__", {}).get("return") == "Finding | None"
    }
    keys = set(flatten(load_config({"model": {"name": "mlp"}}).to_dict()))  # an MLP run: the keys advised
    for settings in current_settings():
        found = every_finding(settings)
        assert {f.kind for f in found} == detectors  # every kind of finding is checked
        for f in found:
            assert f.fix, f
            for key, proposed in f.advice.items():
                assert key in keys, f"{f.kind} advises {key}, which is not a config key"
                for value in proposed if isinstance(proposed, list) else [proposed]:
                    assert not settings.has(key, value), f"{f.kind} proposes {key}: {value}, already set: {f.fix}"
            written = {key: yaml.safe_load(value) for key, value in ADVICE.findall(f.fix)}
            assert set(written) == set(f.advice), f.fix  # the text and the advice say the same
            for key, value in written.items():
                proposed = f.advice[key]
                if isinstance(proposed, list):  # alternatives: "model.activation: leaky_relu or gelu"
                    assert f"{key}: {' or '.join(proposed)}" in f.fix
                    proposed = proposed[0]
                assert value == pytest.approx(proposed) if isinstance(value, float) else value == proposed


def test_fixes_name_what_the_run_has_when_proposing_a_change():
    run = {"model": {"name": "mlp", "dropout": 0.3}, "train": {"weight_decay": 1e-3, "clip_grad_norm": 5}}
    settings = Settings(load_config(run))
    over = overfitting(GAP, DiagnosticsConfig(), "model.hidden", settings, 2)
    assert over.fix == (
        "model.dropout: 0.5 (now 0.3), train.weight_decay: 0.01 (now 0.001), more data or augmentation or a "
        "smaller model (model.hidden, now [256, 128])"
    )  # early stopping is on (the default) and restores the best weights: not advised
    exploding = exploding_gradients({"0": 100.0}, [{"0": 1.0}] * 3, 1.0, 2, 10.0, 1e-3, settings)
    assert (
        exploding.fix
        == "train.clip_grad_norm: 1.0 (now 5.0), train.lr: 0.0001 (now 0.001) or model.batch_norm: true (now false)"
    )
    relu = Settings(load_config({"model": {"name": "mlp", "activation": "leaky_relu"}}))
    assert dead_relus({"0": 1.0}, 1, 0.5, relu).fix.startswith("model.activation: gelu (now leaky_relu), ")
    vanishing = vanishing_gradients({"0": 1e-9, "2": 1.0}, 1, 1e3, ["Sigmoid"], False, "model.hidden", relu)
    assert "model.init" not in vanishing.fix  # kaiming, the default, already
    assert vanishing.advice == {"model.batch_norm": True, "model.activation": "relu"}


def test_the_callback_reads_the_runs_config_and_keeps_quiet_about_early_stopping(tmp_path):
    # The tester's run had train.early_stopping.enabled: true and was told to set it.
    run = {"model": {"name": "mlp"}, "train": {"early_stopping": {"enabled": True}}}  # a run's resolved config
    (tmp_path / "config.yaml").write_text(load_config(run).to_yaml())
    torch.manual_seed(0)
    train = TensorData((torch.randn(32, 20),), torch.randn(32, 1))
    val = TensorData((torch.randn(64, 20),), torch.randn(64, 1))
    stopping = {"enabled": True, "patience": 100}  # the trainer runs with what config.yaml says
    diag = fit(
        mlp([20, 256, 256, 1]),
        train,
        val,
        Diagnostics(tmp_path),
        epochs=8,
        batch_size=32,
        lr=3e-3,
        early_stopping=stopping,
    )
    found = finding(diag, "overfitting")
    assert "early_stopping" not in found.fix and "train.early_stopping.enabled" not in found.advice
    assert "a smaller model (model.hidden, now [256, 128])" in found.fix
    given = Diagnostics(
        settings=load_config({"model": {"name": "mlp", "dropout": 0.5}, "train": {"weight_decay": 0.1}})
    )
    diag = fit(
        mlp([20, 256, 256, 1]),
        train,
        val,
        given,
        epochs=8,
        batch_size=32,
        lr=3e-3,
        weight_decay=0.1,
        early_stopping=stopping,
    )
    found = finding(diag, "overfitting")
    assert found.fix == "more data or augmentation or a smaller model (model.hidden, now [256, 128])"


def test_a_trainer_config_on_the_state_counts_and_the_model_shows_what_it_has():
    # A bare Trainer's run has no config.yaml; when the training state carries the train section
    # (TrainState.config), its early stopping counts too. The model and optimizer show the rest.
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    config = load_config({"train": {"early_stopping": {"enabled": True}}}).train
    state = SimpleNamespace(
        model=model, optimizer=optimizer, schedule=None, config=config, extra={}, step=0, epoch=8, history=GAP
    )
    diag = Diagnostics()
    diag.on_fit_begin(state)
    diag.on_epoch_end(state)
    found = finding(diag, "overfitting")
    assert found.fix == "more data or augmentation or a smaller model (model.hidden)" and found.advice == {}
    exploding = exploding_gradients({"0": 100.0}, [{"0": 1.0}] * 3, 1.0, 2, 10.0, 1e-3, diag.settings)
    assert "batch_norm" not in exploding.fix  # the model has a BatchNorm layer
