"""Callback events and the built-in callbacks (early stopping, checkpoints, metrics log, progress).

A callback is any object with some of these methods, each taking the :class:`TrainState`:
``on_fit_begin``, ``on_epoch_begin``, ``on_batch_begin``, ``after_backward``, ``on_batch_end``,
``on_evaluate``, ``on_epoch_end``, ``on_fit_end``. The loop only calls the methods that exist, and
per-batch events cost nothing when no callback defines them.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfit.evaluation.registry import is_better, metric_info
from deepfit.runs import CHECKPOINTS, METRICS, write_jsonl

EVENTS = (
    "on_fit_begin",
    "on_epoch_begin",
    "on_batch_begin",
    "after_backward",
    "on_batch_end",
    "on_evaluate",
    "on_epoch_end",
    "on_fit_end",
)


@dataclass
class TrainState:
    """What the loop shares with callbacks; ``stop = True`` ends training after the epoch."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any
    epochs: int
    scaler: Any = None  # torch.amp.GradScaler (enabled for fp16 only)
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    logs: dict[str, Any] = field(default_factory=dict)  # this epoch's row
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    stop_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # callbacks' own state, saved in checkpoints


class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep (and restore) the best weights."""

    def __init__(
        self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0, restore_best: bool = True
    ):
        self.monitor, self.patience, self.min_delta, self.restore_best = (
            monitor,
            patience,
            min_delta,
            restore_best,
        )
        self.metric = metric_info(monitor.removeprefix("val_").removeprefix("train_")).name
        self.best: float | None = None
        self.best_epoch = 0
        self.wait = 0
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.enabled = True

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.logs.get(self.monitor)
        if value is None:
            return
        if is_better(self.metric, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = copy.deepcopy(state.model.state_dict())
        else:
            self.wait += 1
            if self.enabled and self.wait >= self.patience:
                state.stop = True
                state.stop_reason = (
                    f"early stopping: {self.monitor} has not improved for {self.patience} epochs "
                    f"(best {self.best:.4g} at epoch {self.best_epoch})"
                )
        state.extra["early_stopping"] = self.state_dict()

    def on_fit_end(self, state: TrainState) -> None:
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = state["best_weights"]


class MetricsLog:
    """``metrics.jsonl``: one row per epoch, rewritten atomically (a reader never sees a torn line)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS

    def on_epoch_end(self, state: TrainState) -> None:
        write_jsonl(self.path, state.history, durable=False)  # atomic; fsync only at the end

    def on_fit_end(self, state: TrainState) -> None:
        write_jsonl(self.path, state.history)


class Checkpointer:
    """``checkpoints/last.pt`` every ``every`` epochs; ``save(state)`` builds the explicit dict."""

    def __init__(self, run_dir: str | Path, every: int = 1, payload: dict[str, Any] | None = None):
        self.dir = Path(run_dir) / CHECKPOINTS
        self.every = every
        self.payload = payload or {}  # resolved config and the like, saved with every checkpoint
        self.last_good_epoch: int | None = None

    @property
    def path(self) -> Path:
        return self.dir / "last.pt"

    def on_epoch_end(self, state: TrainState) -> None:
        last = state.stop or state.epoch == state.epochs
        if state.epoch % self.every == 0 or last:
            self.save(state, durable=last)  # atomic every epoch; fsynced (slow) only when it matters

    def save(self, state: TrainState, durable: bool = True) -> None:
        from deepfit.training.checkpoint import checkpoint_dict, save_checkpoint

        save_checkpoint(self.path, checkpoint_dict(state, self.payload), durable=durable)
        self.last_good_epoch = state.epoch


class ProgressBar:
    """One bar over epochs with loss, validation metric and time; redrawn once per epoch only."""

    def __init__(self, show: str = "val_loss", console: Any = None):
        self.show, self.console = show, console
        self.progress: Any = None

    def on_fit_begin(self, state: TrainState) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            auto_refresh=False,  # a refresh thread would take the GIL from the loop
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.epochs, completed=state.epoch, status="")
        self.start = time.perf_counter()

    def on_epoch_end(self, state: TrainState) -> None:
        logs = state.logs
        parts = [f"loss {logs['train_loss']:.4f}"]
        for key in (self.show, "val_loss", "val_accuracy"):
            if key in logs and key not in ("train_loss",) and not any(p.startswith(key) for p in parts):
                parts.append(f"{key} {logs[key]:.4f}")
        self.progress.update(self.task, completed=state.epoch, status="  ".join(parts[:3]))
        self.progress.refresh()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
