"""Loss by task: cross-entropy (label smoothing, class weights) or MSE / MAE / Huber."""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import TrainConfig
from deepfit.errors import ConfigError


def build_loss(config: TrainConfig, task: str, class_counts: torch.Tensor | None = None) -> nn.Module:
    name = config.loss
    if name == "auto":
        name = "cross_entropy" if task == "classification" else "mse"
    if name == "cross_entropy":
        if task != "classification":
            raise ConfigError("train.loss: cross_entropy needs a classification target; use mse, mae or huber")
        weight = None
        if config.class_weights == "balanced" and class_counts is not None:
            # n_samples / (n_classes * count), as scikit-learn's "balanced"
            counts = class_counts.float().clamp(min=1)
            weight = counts.sum() / (len(counts) * counts)
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)
    if task == "classification":
        raise ConfigError(f"train.loss: {name} is a regression loss; use cross_entropy for classification")
    return {"mse": nn.MSELoss(), "mae": nn.L1Loss(), "huber": nn.HuberLoss(delta=config.huber_delta)}[name]
