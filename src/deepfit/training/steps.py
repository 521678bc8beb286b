"""What differs per kind of model: the training step. ``Trainer.fit`` owns everything else.

The loop (``deepfit.training.trainer``) owns the epochs, the batch order, interrupts, checkpoints, the
non-finite stop, metrics, progress and callbacks. A step owns what one batch does to the weights: the
forward passes, the losses, the backward pass, the optimizers, their schedules and the gradient scaler.
``SupervisedStep`` is one network and one loss; ``deepfit.training.gan.GanStep`` is two networks, two
optimizers, n_critic, the gradient penalty and the generator's moving average; the learning-rate range
test (``lr_finder.find_lr``) runs a ``SupervisedStep`` at rising rates.

Every training backward pass in deepfit goes through :func:`backward`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deepfit.config import TrainConfig
from deepfit.data.batches import Batch, TensorData
from deepfit.errors import ConfigError
from deepfit.evaluation.evaluate import MetricsFn, predict_outputs
from deepfit.training.optim import build_optimizer, l1_penalty
from deepfit.training.schedules import Schedule

Hook = Callable[[], None] | None  # the loop's after_backward event; None when no callback listens


def backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None = None) -> None:
    """The one training backward pass: scaled first when an fp16 gradient scaler is enabled."""
    (scaler.scale(loss) if scaler is not None else loss).backward()


def precision(config: TrainConfig, device: torch.device) -> tuple[Callable[[], Any], torch.amp.GradScaler]:
    """``train.precision`` as an autocast context factory and a gradient scaler (enabled for fp16 only)."""
    if config.precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            "train.precision fp16 needs a CUDA GPU (gradient scaling)", hint="use train.precision: bf16 on the CPU"
        )
    if config.precision == "fp32":
        return contextlib.nullcontext, torch.amp.GradScaler(device.type, enabled=False)
    dtype = torch.bfloat16 if config.precision == "bf16" else torch.float16

    def autocast() -> Any:
        return torch.autocast(device.type, dtype=dtype)

    return autocast, torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")


class TrainStep:
    """The step contract. ``Trainer.fit`` calls, in this order:

    - ``begin(model, net, train, config, device)`` once: build optimizers, schedules, the scaler;
      ``net`` is ``model`` or its ``torch.compile`` wrapper (forward through ``net``, save ``model``).
    - ``load_state_dict(checkpoint)`` when resuming (the keys ``state_dict`` returned).
    - each epoch: ``start_epoch(partial)`` (``partial``: what ``partial()`` returned when a run was interrupted
      mid-epoch, or None), then ``step(index, batch, after_backward)`` per batch, which returns True when it
      took an optimizer step (False while accumulating), then ``epoch_logs(n_rows)`` (the epoch's training
      figures; the one host sync), ``validate(net, val)`` and ``end_epoch(logs)``.

    ``optimizer``, ``schedule`` and ``scaler`` are what callbacks see on the ``TrainState``; ``watch`` names the
    logs whose non-finite value stops training, ``subject`` how the error names them, and ``lr_hint()`` what
    that error suggests. ``group`` is set by the loop before ``begin`` when several processes train
    (``deepfit.training.distributed.Group``): ``net`` is then the DDP/FSDP-wrapped model, each ``batch`` this
    rank's part of a global batch, and ``validate`` gets the unwrapped model; None in one process.
    """

    group: Any = None
    optimizer: torch.optim.Optimizer
    schedule: Any
    scaler: torch.amp.GradScaler
    lr: float = 0.0
    watch: tuple[str, ...] = ("train_loss",)
    subject: str = ""

    def begin(self, model: nn.Module, net: nn.Module, train: TensorData, config: TrainConfig, device: Any) -> None:
        raise NotImplementedError

    def start_epoch(self, partial: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def step(self, index: int, batch: Batch, after_backward: Hook) -> bool:
        raise NotImplementedError

    def partial(self) -> dict[str, Any]:
        """The epoch's running sums, on the CPU: saved in a mid-epoch checkpoint."""
        raise NotImplementedError

    def epoch_logs(self, n_rows: int) -> dict[str, Any]:
        raise NotImplementedError

    def validate(self, net: nn.Module, val: TensorData | None) -> dict[str, float]:
        return {}

    def end_epoch(self, logs: dict[str, Any]) -> None:
        self.schedule.epoch_end(logs.get("val_loss"))

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        raise NotImplementedError

    def lr_hint(self) -> str:
        lr = self.schedule.base_lr
        return (
            f"lower the learning rate (now {lr:g}; try --set train.lr={lr / 10:g}), "
            "clip gradients (--set train.clip_grad_norm=1.0), or check the data for extreme values"
        )


class SupervisedStep(TrainStep):
    """One network, one loss: autocast, loss (+ L1), accumulation, gradient scaling, clipping, step, schedule."""

    def __init__(self, loss: nn.Module, *, metrics_fn: MetricsFn | None = None, lr: float | None = None) -> None:
        self.loss, self.metrics_fn = loss, metrics_fn
        self.chosen_lr = lr  # under train.lr auto: the range test's rate (the loop runs it, or a resume restores it)

    def begin(self, model: nn.Module, net: nn.Module, train: TensorData, config: TrainConfig, device: Any) -> None:
        self.model, self.net, self.config, self.device = model, net, config, device
        self.autocast, self.scaler = precision(config, device)
        if config.lr == "auto":
            if self.chosen_lr is None:
                raise ValueError("train.lr is auto: pass the rate the range test chose (SupervisedStep(..., lr=rate))")
            self.lr = float(self.chosen_lr)
        else:
            self.lr = float(config.lr)
        self.optimizer = build_optimizer(model, config, self.lr)
        self.rows = len(train)
        self.micro_batches = -(-len(train) // config.batch_size)
        per_epoch = -(-self.micro_batches // config.accumulate)
        self.schedule = Schedule(self.optimizer, config.schedule, self.lr, config.epochs * per_epoch, per_epoch)

    def start_epoch(self, partial: dict[str, Any] | None) -> None:
        if partial and (self.group is None or self.group.main):  # a saved sum is the sum over every rank
            self.total = partial["loss_sum"].to(self.device)
        else:
            self.total = torch.zeros((), device=self.device)

    def step(self, index: int, batch: Batch, after_backward: Hook) -> bool:
        cfg, (inputs, target) = self.config, batch
        if index % cfg.accumulate == 0:  # a new optimizer step starts from zero gradients
            self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            output = self.net(*inputs)
            loss = self.loss(output.float(), target)
            if cfg.l1:
                loss = loss + cfg.l1 * l1_penalty(self.model)
        shared = loss
        if self.group is not None:  # weigh this rank's mean by its share of the global batch (DDP averages)
            loss, shared = self._share(loss, output, len(target), index)
        # the mean over the micro-batches of one step: divide by how many this step has
        group = min(cfg.accumulate, self.micro_batches - (index // cfg.accumulate) * cfg.accumulate)
        backward(shared / group if group > 1 else shared, self.scaler)
        self.last_loss = loss.detach()
        self.total += self.last_loss * len(target)
        if (index + 1) % cfg.accumulate and index + 1 < self.micro_batches:
            return False  # accumulate: no optimizer step on this micro-batch
        if self.scaler.is_enabled() and (after_backward or cfg.clip_grad_norm or cfg.clip_grad_value):
            self.scaler.unscale_(self.optimizer)  # callbacks and clipping see the true gradients
        if after_backward is not None:
            after_backward()
        if cfg.clip_grad_value or cfg.clip_grad_norm:
            clip(self.model.parameters(), cfg)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        return True

    def _share(self, loss: torch.Tensor, output: torch.Tensor, rows: int, index: int) -> tuple[torch.Tensor, ...]:
        """(this rank's loss, what it backpropagates): the mean loss times ``rows * world / rows of the global
        batch``, so that DDP's average over ranks is the gradient of the global batch's mean, also for uneven
        parts; a rank without rows (a last batch smaller than the world) adds a zero gradient."""
        if not rows:
            zero = output.float().sum() * 0.0
            return zero, zero
        batch_rows = min(self.config.batch_size, self.rows - index * self.config.batch_size)
        weight = rows * self.group.world / batch_rows
        return loss, loss * weight if weight != 1.0 else loss

    def partial(self) -> dict[str, Any]:
        total = self.total if self.group is None else self.group.sum(self.total)
        return {"loss_sum": total.detach().cpu()}

    def epoch_logs(self, n_rows: int) -> dict[str, Any]:
        total = self.total if self.group is None else self.group.sum(self.total)  # a NaN on any rank: NaN on all
        return {"train_loss": (total / n_rows).item(), "lr": self.schedule.lr}

    def validate(self, net: nn.Module, val: TensorData | None) -> dict[str, float]:
        if val is None:
            return {}
        predict = predict_outputs if self.group is None else self.group.predict  # every row once, on every rank
        with self.autocast():
            outputs = predict(net, val.inputs, max(self.config.batch_size, 1024))
        with torch.inference_mode():
            logs = {"val_loss": self.loss(outputs.float(), val.target).item()}
        if self.metrics_fn is not None:
            logs.update({f"val_{k}": v for k, v in self.metrics_fn(outputs.float(), val.target).items()})
        return logs

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "lr": self.schedule.base_lr,
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        if self.group is not None:  # FSDP: the saved full state is sharded between the ranks
            self.group.load_optimizer_state(self.model, self.optimizer, checkpoint["optimizer"])
        else:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.schedule.load_state_dict(checkpoint["schedule"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])


def clip(parameters: Any, config: TrainConfig) -> None:
    """``train.clip_grad_value``, then ``train.clip_grad_norm``, on the gradients about to be applied."""
    if config.clip_grad_value or config.clip_grad_norm:
        parameters = list(parameters)
        if config.clip_grad_value:
            nn.utils.clip_grad_value_(parameters, config.clip_grad_value)
        if config.clip_grad_norm:
            nn.utils.clip_grad_norm_(parameters, config.clip_grad_norm)
