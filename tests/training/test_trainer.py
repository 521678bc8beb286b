from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from deepfit import Trainer
from deepfit.data.batches import TensorData
from deepfit.errors import TrainingError
from deepfit.training.callbacks import Checkpointer
from deepfit.training.checkpoint import load_checkpoint


def line_data(n: int = 256, seed: int = 0) -> TensorData:
    """y = 2x + 3 with a little noise: the learned weight and bias can be checked."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 4 - 2
    y = 2 * x + 3 + 0.01 * torch.randn(n, 1, generator=g)
    return TensorData((x,), y)


def blobs(n: int = 300, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return TensorData((centers[y] + 0.5 * torch.randn(n, 2, generator=g),), y)


def test_linear_regression_learns_the_line() -> None:
    model = nn.Linear(1, 1)
    config = {"epochs": 60, "lr": 0.05, "optimizer": "sgd", "weight_decay": 0.0, "schedule": "constant"}
    result = Trainer(config).fit(model, line_data(), line_data(64, seed=1))
    assert model.weight.item() == pytest.approx(2.0, abs=0.02)
    assert model.bias.item() == pytest.approx(3.0, abs=0.02)
    assert result.history[-1]["val_loss"] < 1e-3


def test_same_seed_same_history() -> None:
    def run() -> list[dict]:
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
        torch.manual_seed(0)
        model.apply(lambda m: m.reset_parameters() if isinstance(m, nn.Linear) else None)
        return Trainer({"epochs": 5, "seed": 7}).fit(model, blobs(), blobs(90, 1)).history

    assert run() == run()


def test_classification_learns_and_early_stopping_restores_best() -> None:
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
    config = {"epochs": 200, "lr": 0.01, "early_stopping": {"patience": 3, "min_delta": 0.0}}
    val = blobs(90, 1)
    result = Trainer(config).fit(model, blobs(), val)
    assert result.epochs < 200 and "early stopping" in result.stop_reason
    best = min(row["val_loss"] for row in result.history)
    restored = nn.functional.cross_entropy(model(*val.inputs), val.target).item()
    assert restored == pytest.approx(best, rel=1e-5)
    assert (model(*val.inputs).argmax(1) == val.target).float().mean() > 0.95


OPTIMIZERS = ["sgd", "adam", "adamw", "adagrad", "rmsprop"]
SCHEDULES = ["constant", "step", "exponential", "cosine", "onecycle", "plateau"]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_optimizer_and_schedule_lowers_the_loss(optimizer: str, schedule: str) -> None:
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
    config = {"epochs": 8, "lr": 0.02, "optimizer": optimizer, "schedule": {"name": schedule, "warmup_epochs": 1}}
    history = Trainer(config).fit(model, blobs(), blobs(60, 1)).history
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]


def test_nan_loss_stops_with_a_fix_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    x = torch.randn(64, 4) * 1e3
    data = TensorData((x,), x.sum(1, keepdim=True) * 1e3)
    checkpointer = Checkpointer(tmp_path)

    class Poison:  # makes epoch 3 produce a NaN loss, like a diverging run
        def on_epoch_begin(self, state) -> None:
            if state.epoch == 2:
                with torch.no_grad():
                    state.model.weight.fill_(float("nan"))

    model = nn.Linear(4, 1)
    with pytest.raises(TrainingError) as info:
        Trainer({"epochs": 10, "lr": 1e-6}, callbacks=[checkpointer, Poison()]).fit(model, data)
    message = str(info.value)
    assert "the train loss became nan at epoch 3" in message
    assert "last good checkpoint (epoch 2)" in message and "train.lr=" in message and "clip_grad_norm" in message
    saved = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert saved["epoch"] == 2 and torch.isfinite(saved["model"]["weight"]).all()


def test_clip_grad_norm_bounds_each_update() -> None:
    model = nn.Linear(4, 1)
    before = model.weight.detach().clone()
    x = torch.randn(32, 4) * 100
    config = {"epochs": 1, "batch_size": 32, "lr": 1.0, "optimizer": {"name": "sgd", "momentum": 0.0}}
    Trainer({**config, "clip_grad_norm": 1e-3, "weight_decay": 0.0, "schedule": "constant"}).fit(
        model, TensorData((x,), x.sum(1, keepdim=True))
    )
    assert (model.weight.detach() - before).norm().item() <= 1e-3 + 1e-7


def test_l1_penalty_shrinks_weights() -> None:
    def weights(l1: float) -> float:
        torch.manual_seed(0)
        model = nn.Linear(10, 1)
        x = torch.randn(40, 10)
        # Few noisy rows: least squares gives the 9 irrelevant inputs non-zero weights, L1 pulls them to 0.
        data = TensorData((x,), x[:, :1] * 2 + torch.randn(40, 1))
        config = {"epochs": 150, "lr": 0.02, "l1": l1, "weight_decay": 0.0, "schedule": "constant"}
        Trainer(config).fit(model, data)
        return model.weight.detach()[0, 1:].abs().sum().item()

    assert weights(0.2) < 0.5 * weights(0.0)


def test_batches_cover_every_row_once() -> None:
    data = TensorData((torch.arange(10).float()[:, None],), torch.arange(10))
    seen = torch.cat([y for _, y in data.batches(3, shuffle=True, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(y) for _, y in data.batches(3)] == [3, 3, 3, 1]


def test_user_callback_events_fire_in_order() -> None:
    events: list[str] = []

    class Recorder:
        def on_fit_begin(self, state) -> None:
            events.append("fit_begin")

        def on_epoch_end(self, state) -> None:
            events.append(f"epoch_end {state.epoch}")

        def after_backward(self, state) -> None:
            assert all(p.grad is not None for p in state.model.parameters())

        def on_fit_end(self, state) -> None:
            events.append("fit_end")

    Trainer({"epochs": 2}, callbacks=[Recorder()]).fit(nn.Linear(1, 1), line_data(32))
    assert events == ["fit_begin", "epoch_end 1", "epoch_end 2", "fit_end"]


def test_periodic_checkpoints_wait_for_min_seconds_but_the_last_epoch_always_saves(tmp_path: Path) -> None:
    from deepfit.training.callbacks import MetricsLog

    seen: list[tuple[bool, int]] = []

    class Look:  # after the writers, at each epoch end: is there a checkpoint, how many metric lines?
        def on_epoch_end(self, state) -> None:
            lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
            seen.append(((tmp_path / "checkpoints" / "last.pt").exists(), len(lines)))

    checkpointer = Checkpointer(tmp_path, min_seconds=3600)
    Trainer({"epochs": 4}, callbacks=[MetricsLog(tmp_path), checkpointer, Look()]).fit(nn.Linear(1, 1), line_data())
    assert seen == [(False, 1), (False, 2), (False, 3), (True, 4)]  # one line per epoch, appended as it ends
    assert load_checkpoint(checkpointer.path)["epoch"] == 4

    (tmp_path / "checkpoints" / "last.pt").unlink()
    seen.clear()
    every = Checkpointer(tmp_path, min_seconds=0)
    Trainer({"epochs": 2}, callbacks=[MetricsLog(tmp_path), every, Look()]).fit(nn.Linear(1, 1), line_data())
    assert seen == [(True, 1), (True, 2)]  # the file starts again with a new run


def test_nan_before_any_checkpoint_says_none_was_due(tmp_path: Path) -> None:
    data = TensorData((torch.full((8, 2), float("nan")),), torch.zeros(8, 1))
    with pytest.raises(TrainingError, match=r"No checkpoint was due yet \(one at most every 30 s\)"):
        Trainer({"epochs": 3}, callbacks=[Checkpointer(tmp_path, min_seconds=30)]).fit(nn.Linear(2, 1), data)
