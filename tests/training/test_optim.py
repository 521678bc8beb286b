"""Optimizers by name: every registered one builds, lowers a loss and round-trips its state."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import deepfit
from deepfit.config import load_config
from deepfit.errors import ConfigError
from deepfit.training.optim import build_optimizer
from deepfit.training.registry import OPTIMIZERS


def regression() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    return nn.Linear(3, 1), x, x @ torch.tensor([[2.0], [-1.0], [0.5]]) + 3


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_learns_and_round_trips_its_state(name: str) -> None:
    model, x, y = regression()
    train = load_config({"train": {"optimizer": name, "lr": 0.05}}).train
    optimizer = build_optimizer(model, train)
    first = nn.functional.mse_loss(model(x), y).item()
    for _ in range(20):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    assert nn.functional.mse_loss(model(x), y).item() < 0.9 * first
    again = build_optimizer(model, train)
    again.load_state_dict(optimizer.state_dict())
    assert again.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_weights_alone_decay_and_the_cpu_uses_foreach_kernels(name: str) -> None:
    train = load_config({"train": {"optimizer": name, "weight_decay": 0.01}}).train
    optimizer = build_optimizer(nn.Linear(3, 2), train)
    assert [len(g["params"]) for g in optimizer.param_groups] == [1, 1]  # the weight matrix, then the bias
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    assert [g["foreach"] for g in optimizer.param_groups] == [True, True]


def test_the_options_reach_the_optimizer() -> None:
    config = {"name": "sgd", "momentum": 0.5, "nesterov": True}
    optimizer = build_optimizer(nn.Linear(3, 2), load_config({"train": {"optimizer": config}}).train, lr=0.3)
    group = optimizer.param_groups[0]
    assert (type(optimizer), group["lr"], group["momentum"], group["nesterov"]) == (torch.optim.SGD, 0.3, 0.5, True)


def test_a_factory_that_returns_no_optimizer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OPTIMIZERS, "_entries", dict(OPTIMIZERS._entries))
    deepfit.register_optimizer("broken", lambda groups, lr, config: None)
    with pytest.raises(ConfigError, match=r"the optimizer 'broken' returned NoneType, not a torch\.optim\.Optimizer"):
        build_optimizer(nn.Linear(3, 2), load_config({"train": {"optimizer": "broken"}}).train)
