"""Optimizers by name, with weight decay only on weights (not biases or normalisation parameters)."""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig, lr: float | None = None) -> torch.optim.Optimizer:
    """The configured optimizer; ``lr`` overrides ``config.lr`` (needed when it is "auto")."""
    opt = config.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    # Decaying biases and norm scales only hurts: the common practice is to decay matrices alone.
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    lr = float(config.lr if lr is None else lr)
    # On the CPU, PyTorch defaults to a Python loop over tensors; its foreach kernels update a whole group in
    # one call (what it already does on GPUs), which keeps two groups as cheap as one (bench/loop_overhead.py).
    cpu = bool(params) and params[0].device.type == "cpu"
    kwargs = {"foreach": True} if cpu else {}
    if opt.name == "sgd":
        return torch.optim.SGD(
            groups, lr=lr, momentum=opt.momentum, nesterov=opt.nesterov and opt.momentum > 0, **kwargs
        )
    if opt.name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=opt.betas, eps=opt.eps, **kwargs)
    if opt.name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=opt.betas, eps=opt.eps, **kwargs)
    if opt.name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=opt.eps, **kwargs)
    if opt.name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=opt.momentum, eps=opt.eps, **kwargs)
    raise ValueError(f"unknown optimizer '{opt.name}'")  # unreachable: the config validates names


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute weights (matrices only, like weight decay)."""
    return sum(p.abs().sum() for p in model.parameters() if p.ndim >= 2 and p.requires_grad)
