"""Optimizers by name, with weight decay only on weights (not biases or normalisation parameters).

Each optimizer is a factory ``f(param_groups, lr, config) -> torch.optim.Optimizer`` registered in
``deepfit.training.registry.OPTIMIZERS``; :func:`build_optimizer` makes the groups and calls the configured one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfit.config import OptimizerConfig, TrainConfig
from deepfit.errors import ConfigError
from deepfit.training.registry import OPTIMIZERS

ParamGroups = list[dict[str, Any]]


def build_optimizer(model: nn.Module, config: TrainConfig, lr: float | None = None) -> torch.optim.Optimizer:
    """The configured optimizer; ``lr`` overrides ``config.lr`` (needed when it is "auto")."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = param_groups(model, config, params)
    name = config.optimizer.name
    optimizer = OPTIMIZERS.get(name)(groups, float(config.lr if lr is None else lr), config.optimizer)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(
            f"train.optimizer.name: the optimizer '{name}' returned {type(optimizer).__name__}, "
            "not a torch.optim.Optimizer"
        )
    # On the CPU, PyTorch defaults to a Python loop over tensors; its foreach kernels update a whole group in
    # one call (what it already does on GPUs), which keeps two groups as cheap as one (bench/loop_overhead.py).
    # Set on the groups, which every torch optimizer reads at each step, so that registered optimizers get it too.
    if params and params[0].device.type == "cpu" and optimizer.defaults.get("foreach", False) is None:
        optimizer.defaults["foreach"] = True
        for group in optimizer.param_groups:
            group["foreach"] = True
    return optimizer


def param_groups(model: nn.Module, config: TrainConfig, params: list[nn.Parameter]) -> ParamGroups:
    """Weights decayed, biases and norm scales not; with ``train.fine_tune.lr_mult`` above 1, both per layer group.

    Decaying biases and norm scales only hurts: the common practice is to decay matrices alone. A layer group's
    ``lr_scale`` multiplies the scheduled rate (``Schedule``); it is saved with the optimizer's state, so a resumed
    run keeps its groups and rates. Frozen parameters (``train.freeze``) are in the groups too, so that thawing
    them keeps the optimizer's state consistent and resumable.
    """
    fine_tune = config.fine_tune
    if fine_tune.lr_mult > 1:
        from deepfit.models.transfer import layer_groups

        by_name = dict(model.named_parameters())
        kept = {id(p) for p in params}
        layers = [
            ([by_name[n] for n in names if id(by_name[n]) in kept], scale)
            for names, scale in layer_groups(model, fine_tune.groups, fine_tune.lr_mult)
        ]
    else:
        layers = [(params, 1.0)]
    groups = []
    for index, (members, scale) in enumerate(layers):
        for decayed in (True, False):
            chosen = [p for p in members if (p.ndim >= 2) == decayed]
            decay = config.weight_decay if decayed else 0.0
            groups.append({"params": chosen, "weight_decay": decay, "lr_scale": scale, "layer_group": index})
    return [g for g in groups if g["params"]]


def sgd(groups: ParamGroups, lr: float, config: OptimizerConfig) -> torch.optim.Optimizer:
    nesterov = config.nesterov and config.momentum > 0
    return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=nesterov)


def adam(groups: ParamGroups, lr: float, config: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=lr, betas=config.betas, eps=config.eps)


def adamw(groups: ParamGroups, lr: float, config: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr, betas=config.betas, eps=config.eps)


def adagrad(groups: ParamGroups, lr: float, config: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(groups, lr=lr, eps=config.eps)


def rmsprop(groups: ParamGroups, lr: float, config: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(groups, lr=lr, momentum=config.momentum, eps=config.eps)


def l1_penalty(model: nn.Module) -> torch.Tensor | float:
    """Sum of absolute weights (matrices only, like weight decay); 0 when the model has none."""
    return sum(p.abs().sum() for p in model.parameters() if p.ndim >= 2 and p.requires_grad)
