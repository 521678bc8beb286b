"""The training loop, readable top to bottom.

``Trainer(config).fit(model, train, val)`` trains any ``nn.Module`` on in-memory tensors: batches are
index slices of device tensors, the loss stays on the device, and the host syncs once per epoch.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfit.config import TrainConfig, load_config
from deepfit.data.batches import TensorData
from deepfit.errors import TrainingError
from deepfit.evaluation.evaluate import MetricsFn, predict_outputs
from deepfit.training.callbacks import EVENTS, Checkpointer, EarlyStopping, TrainState
from deepfit.training.losses import build_loss
from deepfit.training.optim import build_optimizer, l1_penalty
from deepfit.training.schedules import Schedule


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    epochs: int  # epochs run
    best_epoch: int
    stop_reason: str


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is cuda but no CUDA device is available", hint="use train.device: auto")
    return torch.device(name)


class Trainer:
    """Holds the training settings; :meth:`fit` does the work.

    ``config`` is a :class:`TrainConfig`, a dict of its fields, or None for the defaults;
    ``callbacks`` are extra objects with any of the events in ``deepfit.training.callbacks.EVENTS``.
    """

    def __init__(
        self,
        config: TrainConfig | dict[str, Any] | None = None,
        *,
        callbacks: list[Any] | tuple[Any, ...] = (),
        metrics_fn: MetricsFn | None = None,
    ) -> None:
        if not isinstance(config, TrainConfig):
            config = load_config({"train": config or {}}).train
        self.config = config
        self.callbacks = list(callbacks)
        self.metrics_fn = metrics_fn

    def fit(
        self,
        model: nn.Module,
        train: TensorData,
        val: TensorData | None = None,
        *,
        loss: nn.Module | None = None,
        task: str | None = None,
    ) -> FitResult:
        cfg = self.config
        seed_everything(cfg.seed)
        device = resolve_device(cfg.device)
        task = task or ("classification" if train.target.dtype == torch.int64 else "regression")
        model.to(device)
        train = train.to(device)
        val = val.to(device) if val is not None and len(val) else None
        if loss is None:
            counts = torch.bincount(train.target.cpu()) if task == "classification" else None
            loss = build_loss(cfg, task, counts).to(device)

        optimizer = build_optimizer(model, cfg)
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        schedule = Schedule(optimizer, cfg.schedule, cfg.lr, cfg.epochs * steps_per_epoch, steps_per_epoch)
        state = TrainState(model=model, optimizer=optimizer, schedule=schedule, epochs=cfg.epochs)
        stopper = self._early_stopping(val is not None)
        callbacks = [stopper, *self.callbacks]
        emit = _Emitter(callbacks)
        shuffle = torch.Generator().manual_seed(cfg.seed)

        try:
            emit("on_fit_begin", state)
            while state.epoch < cfg.epochs and not state.stop:
                emit("on_epoch_begin", state)
                model.train()
                total = torch.zeros((), device=device)  # summed on the device: no sync per step
                for inputs, target in train.batches(cfg.batch_size, shuffle=True, generator=shuffle):
                    emit.batch("on_batch_begin", state)
                    output = model(*inputs)
                    batch_loss = loss(output, target)
                    if cfg.l1:
                        batch_loss = batch_loss + cfg.l1 * l1_penalty(model)
                    optimizer.zero_grad(set_to_none=True)
                    batch_loss.backward()
                    emit.batch("after_backward", state)
                    if cfg.clip_grad_value:
                        nn.utils.clip_grad_value_(model.parameters(), cfg.clip_grad_value)
                    if cfg.clip_grad_norm:
                        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                    optimizer.step()
                    schedule.step()
                    state.step += 1
                    total += batch_loss.detach() * len(target)
                    emit.batch("on_batch_end", state)

                state.epoch += 1
                state.logs = {
                    "epoch": state.epoch,
                    "train_loss": (total / len(train)).item(),
                    "lr": schedule.lr,
                }
                self._stop_if_not_finite(state, "train_loss", emit)
                if val is not None:
                    state.logs.update(self._validate(model, val, loss))
                    self._stop_if_not_finite(state, "val_loss", emit)
                    emit("on_evaluate", state)
                schedule.epoch_end(state.logs.get("val_loss"))
                state.history.append(state.logs)
                emit("on_epoch_end", state)
            emit("on_fit_end", state)
        finally:
            emit.close()
        return FitResult(state.history, state.epoch, stopper.best_epoch or state.epoch, state.stop_reason)

    # ------------------------------------------------------------ pieces of the loop
    def _validate(self, model: nn.Module, val: TensorData, loss: nn.Module) -> dict[str, float]:
        outputs = predict_outputs(model, val.inputs, max(self.config.batch_size, 1024))
        with torch.inference_mode():
            logs = {"val_loss": loss(outputs, val.target).item()}
        if self.metrics_fn is not None:
            logs.update({f"val_{k}": v for k, v in self.metrics_fn(outputs, val.target).items()})
        return logs

    def _early_stopping(self, has_val: bool) -> EarlyStopping:
        es = self.config.early_stopping
        monitor = f"val_{es.monitor}" if has_val else "train_loss"
        stopper = EarlyStopping(monitor, es.patience, es.min_delta, es.restore_best and has_val)
        stopper.enabled = es.enabled and has_val
        return stopper

    def _stop_if_not_finite(self, state: TrainState, key: str, emit: _Emitter) -> None:
        value = state.logs[key]
        if math.isfinite(value):
            return
        checkpointer = next((c for c in emit.callbacks if isinstance(c, Checkpointer)), None)
        kept = (
            f" The last good checkpoint (epoch {checkpointer.last_good_epoch}) is kept at {checkpointer.path}."
            if checkpointer and checkpointer.last_good_epoch
            else ""
        )
        lr = self.config.lr
        raise TrainingError(
            f"the {key.replace('_', ' ')} became {value} at epoch {state.epoch} (step {state.step}); "
            f"training stopped.{kept}",
            hint=f"lower the learning rate (now {lr:g}; try --set train.lr={lr / 10:g}), "
            "clip gradients (--set train.clip_grad_norm=1.0), or check the data for extreme values",
        )


class _Emitter:
    """Calls an event on the callbacks that define it; per-batch events are looked up once."""

    def __init__(self, callbacks: list[Any]) -> None:
        self.callbacks = callbacks
        self.handlers = {e: [getattr(c, e) for c in callbacks if callable(getattr(c, e, None))] for e in EVENTS}

    def __call__(self, event: str, state: TrainState) -> None:
        for handler in self.handlers[event]:
            handler(state)

    def batch(self, event: str, state: TrainState) -> None:
        if self.handlers[event]:  # the common case is no handler: one dict lookup per step
            for handler in self.handlers[event]:
                handler(state)

    def close(self) -> None:
        for callback in self.callbacks:
            close = getattr(callback, "close", None)
            if callable(close):
                close()
