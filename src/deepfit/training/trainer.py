"""The training loop, readable top to bottom.

``Trainer(config).fit(model, train, val)`` trains any ``nn.Module`` on in-memory tensors: batches are
index slices of device tensors, the loss stays on the device, and the host syncs once per epoch.
What one batch does to the weights is a step (``deepfit.training.steps``): one loss and one optimizer by
default, ``fit(..., step=GanStep(...))`` for a GAN; the loop around it is the same for every run.
Ctrl-C or SIGTERM saves a checkpoint at the next optimizer step; ``fit(..., resume=checkpoint)``
continues exactly where it stopped (same weights and metrics as an uninterrupted run on the CPU).
Under torchrun (or ``deepfit train --devices N``) the same loop trains with DDP: each rank takes its part of
each global batch of the one-process order, and the ranks agree on stops (``deepfit.training.distributed``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from deepfit.config import TrainConfig, load_config
from deepfit.data.batches import TensorData
from deepfit.errors import RunError, TrainingError
from deepfit.evaluation.evaluate import MetricsFn
from deepfit.training.callbacks import EVENTS, Checkpointer, EarlyStopping, TrainState
from deepfit.training.checkpoint import rng_state, set_rng_state, unwrap
from deepfit.training.distributed import Group, init_from_env
from deepfit.training.freeze import freezer
from deepfit.training.interrupts import Interrupts
from deepfit.training.losses import build_loss
from deepfit.training.lr_finder import find_lr
from deepfit.training.steps import SupervisedStep, TrainStep, precision


@dataclass
class FitResult:
    history: list[dict[str, Any]]
    epochs: int  # epochs run
    best_epoch: int
    stop_reason: str
    lr: float = 0.0  # the learning rate used (the range test's suggestion when train.lr is auto)
    # train.strategy fsdp: the trained model's full weights (on rank 0; the model itself stays sharded)
    weights: dict[str, Any] | None = None


class TrainingInterrupted(TrainingError):
    """Ctrl-C / SIGTERM: a checkpoint was saved; ``deepfit train --resume RUN_DIR`` continues."""

    exit_code = 130


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_settings(config: TrainConfig) -> None:
    """Settings that cannot work on this machine, refused before any data is read or file written."""
    precision(config, resolve_device(config.device))


CHECKPOINT_KEYS = ("model", "optimizer", "schedule", "epoch", "step", "history", "extra", "rng")


def check_resumable(model: nn.Module, checkpoint: dict[str, Any]) -> None:
    """Refuse a checkpoint that is not this loop's or does not fit ``model``, before a resume writes anything."""
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise RunError(
            f"the checkpoint lacks {', '.join(missing)}: it was not written by this training loop",
            hint="start a new run",
        )
    try:
        unwrap(model).load_state_dict(checkpoint["model"])
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise RunError(
            f"the checkpoint does not fit this model: {str(exc).splitlines()[0][:200]}",
            hint="resume with the run's own config (the model or data settings differ)",
        ) from None


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
        self.interrupts = Interrupts()  # Ctrl-C / SIGTERM, checked once per optimizer step

    def fit(
        self,
        model: nn.Module,
        train: TensorData,
        val: TensorData | None = None,
        *,
        loss: nn.Module | None = None,
        task: str | None = None,
        resume: dict[str, Any] | None = None,
        step: TrainStep | None = None,
    ) -> FitResult:
        """Train ``model`` on ``train``; ``step`` is what one batch does (default: one loss, one optimizer)."""
        cfg = self.config
        seed_everything(cfg.seed)
        group = init_from_env(cfg.device, cfg.strategy)  # None in one process
        device = group.device if group is not None else resolve_device(cfg.device)
        model.to(device)
        train = train.to(device)
        val = val.to(device) if val is not None and len(val) else None
        if step is None:
            loss = loss or self._loss(train, task, device)
            lr = (resume or {}).get("lr")  # train.lr auto: the range test ran before an interruption
            if cfg.lr == "auto" and lr is None:
                lr = find_lr(model, train, cfg, loss=loss, device=device).suggestion
            step = SupervisedStep(loss, metrics_fn=self.metrics_fn, lr=lr)
        step.group = group
        if group is not None and not isinstance(step, SupervisedStep):
            raise TrainingError(f"{type(step).__name__} trains in one process only", hint="train without --devices")
        # the unwrapped `model` is what gets saved; torch.compile of a Module is an OptimizedModule (a Module),
        # though its stub says only Callable
        net = group.wrap(model) if group is not None else model
        net = cast(nn.Module, torch.compile(net)) if cfg.compile else net
        eval_net = net if group is None else model  # each rank validates its own rows: no DDP collectives
        step.begin(model, net, train, cfg, device)
        state = TrainState(
            model=model,
            optimizer=step.optimizer,
            schedule=step.schedule,
            epochs=cfg.epochs,
            scaler=step.scaler,
            config=cfg,
            train_step=step,
        )
        stopper = self._early_stopping(val is not None)
        emit = _Emitter([stopper, *freezer(cfg), *self.callbacks])  # train.freeze: before the user's callbacks
        checkpointer = next((c for c in emit.callbacks if isinstance(c, Checkpointer)), None)
        if group is not None and group.sharded:  # weights are sharded: gathering them takes every rank
            stopper.snapshot, stopper.restore = group.model_state, group.load_model_state
            if checkpointer is not None:
                checkpointer.deferred = True
        after_backward = (lambda: emit("after_backward", state)) if emit.handlers["after_backward"] else None
        shuffle = torch.Generator().manual_seed(cfg.seed)
        position = self._restore(resume, state, stopper, shuffle, group) if resume else None
        if group is not None and group.rank:  # dropout and augmentation differ between ranks (rank 0: as saved)
            saved = state.extra.get("rng_ranks") if resume else None
            if saved and len(saved) == group.world:
                set_rng_state(saved[group.rank])  # the same number of processes: each continues its stream
            else:
                seed_everything(cfg.seed + 7919 * group.rank + state.step)
        shard = group.shard if group is not None else None

        if group is not None:  # torchrun echoes a terminal's Ctrl-C to every process: one request, not two
            self.interrupts.echo = max(self.interrupts.echo, 3.0)
        try:
            self.interrupts.install()
            emit("on_fit_begin", state)
            while state.epoch < cfg.epochs and not state.stop:
                emit("on_epoch_begin", state)
                net.train()
                # where this epoch's order comes from, so an interrupted epoch can be replayed exactly
                epoch_order = position["order"] if position else shuffle.get_state()
                shuffle.set_state(epoch_order)
                start = position["batch"] if position else 0
                if position:  # streamed data: its buffer and read position (in-memory data: nothing)
                    train.load_position(position)
                step.start_epoch(position)
                position = None
                batches = train.batches(
                    cfg.batch_size, shuffle=True, generator=shuffle, augment=True, start=start, shard=shard
                )
                for index, batch in enumerate(batches, start):
                    emit.batch("on_batch_begin", state)
                    if not step.step(index, batch, after_backward):
                        continue  # no optimizer step on this batch (accumulating gradients)
                    state.step += 1
                    emit.batch("on_batch_end", state)
                    if group is not None:  # a signal on any rank stops every rank at this step
                        self.interrupts.signal = group.signal(self.interrupts.signal)
                    if self.interrupts.signal:
                        where = {"order": epoch_order, "batch": index + 1, **train.position()}
                        self._save_interrupted(state, emit, where, group)

                state.epoch += 1
                state.logs = {"epoch": state.epoch, **step.epoch_logs(len(train))}
                for key in step.watch:
                    self._stop_if_not_finite(state, key, emit)
                scores = step.validate(eval_net, val)
                if scores:
                    state.logs.update(scores)
                    if "val_loss" in scores:
                        self._stop_if_not_finite(state, "val_loss", emit)
                    emit("on_evaluate", state)
                step.end_epoch(state.logs)
                state.history.append(state.logs)
                state.extra["position"] = None
                state.extra["shuffle"] = shuffle.get_state()
                if group is not None:  # each rank's random streams, saved by rank 0 with the epoch
                    state.extra["rng_ranks"] = group.gather_object(rng_state())
                emit("on_epoch_end", state)
                if group is not None:
                    self._agree(state, group, checkpointer)
                if self.interrupts.signal:  # arrived during validation or the epoch's last step
                    self._save_interrupted(state, emit, None, group)
            emit("on_fit_end", state)
        finally:
            self.interrupts.release()
            emit.close()
        weights = group.model_state(model) if group is not None and group.sharded else None
        best = stopper.best_epoch or state.epoch
        return FitResult(state.history, state.epoch, best, state.stop_reason, step.lr, weights)

    # ------------------------------------------------------------ pieces of the loop
    def _loss(self, train: TensorData, task: str | None, device: torch.device) -> nn.Module:
        task = task or ("classification" if train.target.dtype == torch.int64 else "regression")
        counts = train.class_counts() if task == "classification" else None  # streamed: counted while fitting
        return build_loss(self.config, task, counts).to(device)

    def _early_stopping(self, has_val: bool) -> EarlyStopping:
        es = self.config.early_stopping
        monitor = f"val_{es.monitor}" if has_val else "train_loss"
        stopper = EarlyStopping(monitor, es.patience, es.min_delta, es.restore_best and has_val)
        stopper.enabled = es.enabled and has_val
        return stopper

    def _stop_if_not_finite(self, state: TrainState, key: str, emit: _Emitter) -> None:
        value = state.logs[key]
        if value is None or math.isfinite(value):
            return
        checkpointer = next((c for c in emit.callbacks if isinstance(c, Checkpointer)), None)
        kept = ""
        if checkpointer and checkpointer.last_good_epoch:
            kept = f" The last good checkpoint (epoch {checkpointer.last_good_epoch}) is kept at {checkpointer.path}."
        elif checkpointer:
            kept = f" No checkpoint was due yet (one at most every {checkpointer.min_seconds:g} s)."
        step = state.train_step
        raise TrainingError(
            f"the {step.subject}{key.replace('_', ' ')} became {value} at epoch {state.epoch} "
            f"(step {state.step}); training stopped.{kept}",
            hint=step.lr_hint(),
        )

    # ------------------------------------------------------------ interruption and resume
    def _save_interrupted(
        self, state: TrainState, emit: _Emitter, position: dict[str, Any] | None, group: Group | None = None
    ) -> None:
        """Save where the loop is (``position`` None: at an epoch boundary; in global batches, so that any
        number of processes can continue) and stop with how to resume. Many processes: every rank comes
        here at the same step, rank 0 saves (the others have no checkpointer), and all leave together."""
        if position is not None:
            position = {**position, **state.train_step.partial()}
        state.extra["position"] = position
        if group is not None:
            state.extra["rng_ranks"] = group.gather_object(rng_state())
        checkpointer = next((c for c in emit.callbacks if isinstance(c, Checkpointer)), None)
        if group is not None and group.sharded:
            self._consolidated_save(state, checkpointer, group, durable=True)
        elif checkpointer is not None:
            checkpointer.save(state)
        if group is not None:
            group.barrier()  # no rank exits before the checkpoint is written
        if checkpointer is None:
            if group is None:
                raise KeyboardInterrupt
            raise TrainingInterrupted(f"interrupted by {self.interrupts.signal} after step {state.step}")
        run = checkpointer.dir.parent
        epoch = state.epoch + (position is not None)
        raise TrainingInterrupted(
            f"interrupted by {self.interrupts.signal} after step {state.step} (epoch {epoch}); "
            f"a checkpoint was saved to {checkpointer.path}",
            hint=f"continue with: deepfit train --resume {run}",
        )

    def _agree(self, state: TrainState, group: Group, checkpointer: Checkpointer | None) -> None:
        """The end of an epoch in several processes: the same stop and signal on every rank, and under FSDP
        the checkpoint rank 0 is due to write, gathered by all."""
        state.stop = bool(group.any(state.stop))
        self.interrupts.signal = group.signal(self.interrupts.signal)
        if group.sharded and group.any(checkpointer is not None and checkpointer.due(state)):
            self._consolidated_save(state, checkpointer, group, durable=state.stop or state.epoch == state.epochs)

    @staticmethod
    def _consolidated_save(state: TrainState, checkpointer: Checkpointer | None, group: Group, durable: bool) -> None:
        """FSDP: every rank gathers the full weights and optimizer state; rank 0 saves them as one process
        would, so that any number of processes (one included) can resume the checkpoint."""
        model, optimizer = state.model, state.train_step.optimizer
        state.consolidated = {"model": group.model_state(model), "optimizer": group.optimizer_state(model, optimizer)}
        try:
            if checkpointer is not None:
                checkpointer.save(state, durable=durable)
        finally:
            state.consolidated = None

    def _restore(
        self,
        checkpoint: dict[str, Any],
        state: TrainState,
        stopper: EarlyStopping,
        shuffle: torch.Generator,
        group: Group | None = None,
    ) -> dict[str, Any] | None:
        """Load a checkpoint into the freshly built objects; returns the mid-epoch position, if any."""
        try:
            if group is not None and group.sharded:
                group.load_model_state(state.model, checkpoint["model"])
            else:
                unwrap(state.model).load_state_dict(checkpoint["model"])
        except RuntimeError as exc:
            raise RunError(
                f"the checkpoint does not fit this model: {str(exc).splitlines()[0]}",
                hint="resume with the run's own config (the model or data settings differ)",
            ) from None
        state.train_step.load_state_dict(checkpoint)
        state.epoch, state.step, state.history = checkpoint["epoch"], checkpoint["step"], checkpoint["history"]
        state.extra.update(checkpoint["extra"])
        if checkpoint["extra"].get("early_stopping"):
            stopper.load_state_dict(checkpoint["extra"]["early_stopping"])
        if checkpoint["extra"].get("shuffle") is not None:
            shuffle.set_state(checkpoint["extra"]["shuffle"])
        set_rng_state(checkpoint["rng"])  # last: building the model and optimizer consumed random numbers
        return checkpoint["extra"].get("position")


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
