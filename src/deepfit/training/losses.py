"""Loss by task: cross-entropy (label smoothing, class weights) or MSE / MAE / Huber.

An ensemble trained as one model (tabm) returns ``(batch, k members, outputs)`` in training mode: the loss is
then the mean of the k members' losses (:class:`MemberMean`); in eval mode it returns the ensemble's output.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import TrainConfig
from deepfit.errors import ConfigError


class MemberMean(nn.Module):
    """``loss(output, target)``, or the mean over members when ``output`` has a members axis after the batch."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        class_index = isinstance(self.loss, nn.CrossEntropyLoss) and not target.is_floating_point()
        if output.dim() == target.dim() + 1 + class_index:  # one axis more than the loss takes: (batch, k, ...)
            # the mean over batch x k equals the mean of the k members' mean losses (weighted ones too)
            return self.loss(output.flatten(0, 1), target.repeat_interleave(output.shape[1], dim=0))
        return self.loss(output, target)


def build_loss(config: TrainConfig, task: str, class_counts: torch.Tensor | None = None) -> nn.Module:
    return MemberMean(_loss(config, task, class_counts))


def _loss(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
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
