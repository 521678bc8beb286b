"""Callback events and the built-in callbacks (early stopping, checkpoints, metrics log, progress).

A callback is any object with some of these methods, each taking the :class:`TrainState`:
``on_fit_begin``, ``on_epoch_begin``, ``on_batch_begin``, ``after_backward``, ``on_batch_end``,
``on_evaluate``, ``on_epoch_end``, ``on_fit_end``. The loop only calls the methods that exist, and
per-batch events cost nothing when no callback defines them.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfit.evaluation.registry import is_better, metric_info
from deepfit.runs import CHECKPOINTS, METRICS, append_line, json_line, write_jsonl

# The progress bar redraws at most four times a second: a rich redraw costs ~3.5 ms here, so its share of
# training time stays near 1 % however short the epochs are.
REDRAW_SECONDS = 0.25
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
    config: Any = None  # the TrainConfig the loop runs with (read-only for callbacks)
    train_step: Any = None  # the loop's deepfit.training.steps.TrainStep: its optimizers, schedules, scaler
    # train.strategy fsdp: the full weights and optimizer state, gathered by every rank for a checkpoint due now
    consolidated: dict[str, Any] | None = None


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
        # how the best weights are kept and put back; FSDP's loop swaps in gathering (every rank calls both)
        self.snapshot: Callable[[nn.Module], dict[str, Any]] = lambda model: copy.deepcopy(model.state_dict())
        self.restore: Callable[[nn.Module, dict[str, Any]], Any] = lambda model, weights: model.load_state_dict(weights)

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.logs.get(self.monitor)
        if value is None:
            return
        if is_better(self.metric, value, self.best, self.min_delta):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = self.snapshot(state.model)
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
            self.restore(state.model, self.best_weights)

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
    """``metrics.jsonl``: one row per epoch, appended as the epoch ends.

    One short ``write`` per epoch (not a rewrite of the whole file: that grows with the run). A process
    killed mid-write can cut the last line only, which readers skip; a resumed run starts the file again
    from its checkpoint's history, and the end of the run rewrites it atomically and durably.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / METRICS
        self.file: Any = None

    def on_fit_begin(self, state: TrainState) -> None:
        write_jsonl(self.path, state.history, durable=False)  # empty, or a resumed run's epochs so far
        self.file = self.path.open("a", encoding="utf-8")

    def on_epoch_end(self, state: TrainState) -> None:
        append_line(self.file, self.path, json_line(state.logs))  # a full disk: one clear error

    def on_fit_end(self, state: TrainState) -> None:
        self.close()
        write_jsonl(self.path, state.history)

    def close(self) -> None:
        if self.file is not None:
            file, self.file = self.file, None
            with contextlib.suppress(OSError):  # a full disk was already reported by the write that failed
                file.close()


class Checkpointer:
    """``checkpoints/last.pt`` every ``every`` epochs, and at most once per ``min_seconds``.

    The last epoch always saves (durably), and so do Ctrl-C and SIGTERM (the trainer calls ``save``), so the
    time limit costs at most ``min_seconds`` of work on a hard kill, while small, fast epochs do not pay a
    checkpoint each (``output.checkpoint_seconds``).
    """

    def __init__(
        self, run_dir: str | Path, every: int = 1, payload: dict[str, Any] | None = None, min_seconds: float = 0.0
    ):
        self.dir = Path(run_dir) / CHECKPOINTS
        self.every, self.min_seconds = every, min_seconds
        self.payload = payload or {}  # resolved config and the like, saved with every checkpoint
        self.last_good_epoch: int | None = None
        self.saved_at = -math.inf
        self.deferred = False  # train.strategy fsdp: the loop saves at epoch ends (every rank gathers first)

    @property
    def path(self) -> Path:
        return self.dir / "last.pt"

    def on_fit_begin(self, state: TrainState) -> None:
        self.saved_at = time.monotonic()  # the first periodic checkpoint comes min_seconds in

    def due(self, state: TrainState) -> bool:
        """Whether this epoch's end saves (the last epoch always does)."""
        last = state.stop or state.epoch == state.epochs
        return last or (state.epoch % self.every == 0 and time.monotonic() - self.saved_at >= self.min_seconds)

    def on_epoch_end(self, state: TrainState) -> None:
        if self.due(state) and not self.deferred:
            last = state.stop or state.epoch == state.epochs
            self.save(state, durable=last)  # atomic every time; fsynced (slow) only when it matters

    def save(self, state: TrainState, durable: bool = True) -> None:
        from deepfit.training.checkpoint import checkpoint_dict, save_checkpoint

        save_checkpoint(self.path, checkpoint_dict(state, self.payload), durable=durable)
        self.last_good_epoch = state.epoch
        self.saved_at = time.monotonic()


def epoch_progress(console: Any, epochs: int, done: int) -> Any:
    """One bar over epochs that fits an 80-column terminal: ``epoch 12/300 ━━╸ <status> 0:00:41``.

    Redrawn by the caller only (no refresh thread taking the GIL from the loop); the status should stay
    under 48 characters.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]epoch"),
        MofNCompleteColumn(),
        BarColumn(bar_width=8),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        transient=False,
    )
    progress.start()
    progress.add_task("train", total=epochs, completed=done, status="")
    return progress


class ProgressBar:
    """One bar over epochs with loss, validation metric and time; redrawn once per epoch only.

    ``status`` makes the text after the bar from an epoch's row (default: the loss and ``show``).
    """

    def __init__(self, show: str = "val_loss", console: Any = None, status: Callable[[dict], str] | None = None):
        self.show, self.console, self.status = show, console, status
        self.progress: Any = None
        self.epoch = 0
        self.logs: dict[str, Any] = {}

    def on_fit_begin(self, state: TrainState) -> None:
        self.progress = epoch_progress(self.console, state.epochs, state.epoch)
        self.task = self.progress.task_ids[0]
        self.start = self.drawn_at = time.perf_counter()

    def on_epoch_end(self, state: TrainState) -> None:
        self.epoch, self.logs = state.epoch, state.logs
        now = time.perf_counter()
        if now - self.drawn_at >= REDRAW_SECONDS or state.epoch == state.epochs:
            self._draw()
            self.drawn_at = now

    def _draw(self) -> None:
        if self.status is not None:
            self.progress.update(self.task, completed=self.epoch, status=self.status(self.logs))
            self.progress.refresh()
            return
        logs = self.logs
        parts = [f"loss {logs['train_loss']:.4f}"]
        for key in (self.show, "val_loss", "val_accuracy"):
            if key in logs and key not in ("train_loss",) and not any(p.startswith(key) for p in parts):
                parts.append(f"{key} {logs[key]:.4f}")
        self.progress.update(self.task, completed=self.epoch, status="  ".join(parts[:3]))
        self.progress.refresh()

    def close(self) -> None:
        if self.progress is not None:
            if self.logs:
                self._draw()  # the last epoch's figures, also when stopped early
            self.progress.stop()
            self.progress = None
