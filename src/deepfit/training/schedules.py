"""Learning-rate schedules as a pure function of the step, plus a small stateful wrapper.

``lr_factor`` is what a reader checks (nanoGPT's ``get_lr``): warm-up, then the configured schedule, a function
``f(step, total_steps, steps_per_epoch, config) -> float`` registered in ``deepfit.training.registry.SCHEDULES``.
``Schedule`` applies it every optimizer step and handles reduce-on-plateau, which depends on validation results,
once per epoch.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from deepfit.config import ScheduleConfig
from deepfit.training.registry import SCHEDULES


def lr_factor(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based): warm-up, then the schedule's.

    >>> from deepfit.config import ScheduleConfig
    >>> lr_factor(0, 100, 10, ScheduleConfig(name="cosine"))
    1.0
    >>> round(lr_factor(50, 100, 10, ScheduleConfig(name="cosine")), 3)
    0.5
    >>> round(lr_factor(4, 100, 10, ScheduleConfig(name="constant", warmup_epochs=1)), 4)  # warm-up: 5/11
    0.4545
    """
    warmup = warmup_steps(steps_per_epoch, config)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return float(SCHEDULES.get(config.name)(step, total_steps, steps_per_epoch, config))


def warmup_steps(steps_per_epoch: int, config: ScheduleConfig) -> int:
    return int(config.warmup_epochs * steps_per_epoch)


def progress(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    """How far past the warm-up ``step`` is, from 0 to 1: what annealing schedules follow."""
    warmup = warmup_steps(steps_per_epoch, config)
    return min(1.0, (step - warmup) / max(1, total_steps - warmup))


# ---------------------------------------------------------------- the schedules (registry.SCHEDULES)
def constant(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    return 1.0


def plateau(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    return 1.0  # constant between plateaus: Schedule.epoch_end decays it on validation results


def step_decay(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    return (config.gamma or 0.1) ** int(step / steps_per_epoch // config.step_size)


def exponential(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    return (config.gamma or 0.95) ** (step / steps_per_epoch)


def cosine(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    return 0.5 * (1 + math.cos(math.pi * progress(step, total_steps, steps_per_epoch, config)))


def onecycle(step: int, total_steps: int, steps_per_epoch: int, config: ScheduleConfig) -> float:
    """Rise from 1/25 of the peak over 30 % of the steps, then anneal to 1/1e4 of it."""
    done = progress(step, total_steps, steps_per_epoch, config)
    if done < 0.3:
        return 1 / 25 + (1 - 1 / 25) * 0.5 * (1 - math.cos(math.pi * done / 0.3))
    return 1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (done - 0.3) / 0.7))


class Schedule:
    """Sets the learning rate of every param group each optimizer step."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        config: ScheduleConfig,
        base_lr: float,
        total_steps: int,
        steps_per_epoch: int,
    ) -> None:
        self.optimizer, self.config = optimizer, config
        self.base_lr = (config.max_lr or base_lr) if config.name == "onecycle" else base_lr
        self.total_steps, self.steps_per_epoch = total_steps, steps_per_epoch
        self.step_count = 0
        self.plateau_scale, self.plateau_best, self.plateau_bad = 1.0, math.inf, 0
        self._apply()

    @property
    def lr(self) -> float:
        """The scheduled rate: the head's, when layer groups learn at rates of their own (``lr_scale``)."""
        return self.current

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def epoch_end(self, monitored_loss: float | None) -> None:
        """Reduce on plateau of a lower-is-better value (the validation loss)."""
        if self.config.name != "plateau" or monitored_loss is None:
            return
        if monitored_loss < self.plateau_best:
            self.plateau_best, self.plateau_bad = monitored_loss, 0
            return
        self.plateau_bad += 1
        if self.plateau_bad > self.config.patience:
            self.plateau_scale *= self.config.factor
            self.plateau_bad = 0
            self._apply()

    def _apply(self) -> None:
        factor = lr_factor(self.step_count, self.total_steps, self.steps_per_epoch, self.config)
        lr = self.base_lr * factor * self.plateau_scale
        if (
            self.config.name in ("cosine", "plateau")
            and self.step_count >= self.config.warmup_epochs * self.steps_per_epoch
        ):
            lr = max(lr, self.config.min_lr)
        self.current = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("step_count", "plateau_scale", "plateau_best", "plateau_bad")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._apply()
