"""Loss by task: cross-entropy (label smoothing, class weights) or MSE / MAE / Huber, or a registered one.

An ensemble trained as one model (tabm) returns ``(batch, k members, outputs)`` in training mode: the loss is
then the mean of the k members' losses (:class:`MemberMean`); in eval mode it returns the ensemble's output.
"""

from __future__ import annotations

import torch
from torch import nn

from deepfit.config import TrainConfig
from deepfit.errors import ConfigError
from deepfit.training.registry import LOSSES


class MemberMean(nn.Module):
    """``loss(output, target)``, or the mean over members when ``output`` has a members axis after the batch."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        class_index = not target.is_floating_point()  # class indices: (batch,) targets for (batch, classes) outputs
        if output.dim() == target.dim() + 1 + class_index:  # one axis more than the loss takes: (batch, k, ...)
            # the mean over batch x k equals the mean of the k members' mean losses (weighted ones too)
            return self.loss(output.flatten(0, 1), target.repeat_interleave(output.shape[1], dim=0))
        return self.loss(output, target)


def build_loss(config: TrainConfig, task: str, class_counts: torch.Tensor | None = None) -> nn.Module:
    """The configured loss (a factory ``f(config, task, class_counts)`` in ``registry.LOSSES``), member-averaged."""
    loss = LOSSES.get(config.loss)(config, task, class_counts)
    if not isinstance(loss, nn.Module):
        raise ConfigError(f"train.loss: the loss '{config.loss}' returned {type(loss).__name__}, not a torch nn.Module")
    return MemberMean(loss)


# ---------------------------------------------------------------- the losses (registry.LOSSES)
def auto(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
    return LOSSES.get("cross_entropy" if task == "classification" else "mse")(config, task, class_counts)


def cross_entropy(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
    if task != "classification":
        raise ConfigError("train.loss: cross_entropy needs a classification target; use mse, mae or huber")
    weight = None
    if config.class_weights == "balanced" and class_counts is not None:
        # n_samples / (n_classes * count), as scikit-learn's "balanced"
        counts = class_counts.float().clamp(min=1)
        weight = counts.sum() / (len(counts) * counts)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def mse(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
    return _regression("mse", task, nn.MSELoss())


def mae(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
    return _regression("mae", task, nn.L1Loss())


def huber(config: TrainConfig, task: str, class_counts: torch.Tensor | None) -> nn.Module:
    return _regression("huber", task, nn.HuberLoss(delta=config.huber_delta))


def _regression(name: str, task: str, loss: nn.Module) -> nn.Module:
    if task == "classification":
        raise ConfigError(f"train.loss: {name} is a regression loss; use cross_entropy for classification")
    return loss
