"""Losses by name and task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfit.config import load_config
from deepfit.errors import ConfigError
from deepfit.training.losses import build_loss
from deepfit.training.registry import LOSSES, register_loss


def loss_of(name: str, task: str, counts: torch.Tensor | None = None, **options) -> nn.Module:
    return build_loss(load_config({"train": {"loss": name, **options}}).train, task, counts).loss


def test_auto_is_cross_entropy_for_classes_and_mse_for_numbers() -> None:
    assert type(loss_of("auto", "classification")) is nn.CrossEntropyLoss
    assert type(loss_of("auto", "regression")) is nn.MSELoss


def test_regression_losses_and_their_options() -> None:
    assert type(loss_of("mae", "regression")) is nn.L1Loss
    assert loss_of("huber", "regression", huber_delta=2.5).delta == 2.5


def test_a_loss_for_the_other_task_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"train\.loss: cross_entropy needs a classification target; use mse"):
        loss_of("cross_entropy", "regression")
    with pytest.raises(ConfigError, match=r"train\.loss: huber is a regression loss; use cross_entropy"):
        loss_of("huber", "classification")


def test_balanced_class_weights_and_label_smoothing() -> None:
    loss = loss_of(
        "cross_entropy", "classification", torch.tensor([30, 10]), class_weights="balanced", label_smoothing=0.1
    )
    assert loss.weight.tolist() == pytest.approx([40 / 60, 40 / 20]) and loss.label_smoothing == 0.1


def test_a_registered_loss_gets_the_members_of_an_ensemble_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """tabm trains k members at once, (batch, k, classes): any loss sees (batch x k, classes) and its targets."""
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._entries))
    shapes = []

    class Recording(nn.Module):
        def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            shapes.append((tuple(output.shape), tuple(target.shape)))
            return nn.functional.cross_entropy(output, target)

    register_loss("recording", lambda config, task, class_counts: Recording())
    loss = build_loss(load_config({"train": {"loss": "recording"}}).train, "classification")
    loss(torch.randn(4, 3, 2), torch.tensor([0, 1, 1, 0]))
    loss(torch.randn(4, 2), torch.tensor([0, 1, 1, 0]))
    assert shapes == [((12, 2), (12,)), ((4, 2), (4,))]
