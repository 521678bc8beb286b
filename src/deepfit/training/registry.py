"""Optimizers, learning-rate schedules and losses by name: the registries a config's names are checked against.

Each entry is a small factory, stored as a lazy ``"module:function"`` string so that validating a config never
imports torch:

- optimizer: ``f(param_groups, lr, config: OptimizerConfig) -> torch.optim.Optimizer``; the groups already
  carry each one's weight decay (matrices decayed, biases and norm scales not);
- schedule: ``f(step, total_steps, steps_per_epoch, config: ScheduleConfig) -> float``, the multiplier of the
  base learning rate at optimizer step ``step`` (0-based); warm-up (``warmup_epochs``) is applied before it is
  called. ``plateau`` is special: its decay depends on validation results (``schedules.Schedule``);
- loss: ``f(config: TrainConfig, task, class_counts) -> nn.Module``, called once with the task
  (``"classification"`` or ``"regression"``) and, for classification, the training split's class counts.

Register your own with :func:`register_optimizer`, :func:`register_schedule` or :func:`register_loss` (also as
decorators); its name is then valid in a config (``train.optimizer: lion``) in this Python process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from deepfit.registry import Registry

Factory = Callable[..., Any]
_F = TypeVar("_F", bound=Factory)  # a decorated factory keeps its own signature

OPTIMIZERS: Registry[Factory] = Registry(
    "optimizer",
    {name: f"deepfit.training.optim:{name}" for name in ("sgd", "adam", "adamw", "adagrad", "rmsprop")},
    key="train.optimizer.name",
    entry_points="deepfit.optimizers",
)

SCHEDULES: Registry[Factory] = Registry(
    "schedule",
    {
        "constant": "deepfit.training.schedules:constant",
        "step": "deepfit.training.schedules:step_decay",
        "exponential": "deepfit.training.schedules:exponential",
        "cosine": "deepfit.training.schedules:cosine",
        "onecycle": "deepfit.training.schedules:onecycle",
        "plateau": "deepfit.training.schedules:plateau",  # its decay is Schedule.epoch_end's, on validation results
    },
    key="train.schedule.name",
    entry_points="deepfit.schedules",
)

LOSSES: Registry[Factory] = Registry(
    "loss",
    {
        "auto": "deepfit.training.losses:auto",  # cross_entropy for classification, mse for regression
        "cross_entropy": "deepfit.training.losses:cross_entropy",
        "mse": "deepfit.training.losses:mse",
        "mae": "deepfit.training.losses:mae",
        "huber": "deepfit.training.losses:huber",
    },
    key="train.loss",
    entry_points="deepfit.losses",
)


@overload
def register_optimizer(name: str, factory: None = None) -> Callable[[_F], _F]: ...
@overload
def register_optimizer(name: str, factory: Factory | str) -> Factory | str: ...
def register_optimizer(name: str, factory: Factory | str | None = None) -> Any:
    """Register ``factory(param_groups, lr, config) -> torch.optim.Optimizer`` as ``train.optimizer: name``.

    ``factory`` is a callable or a ``"package.module:function"`` string; without it, a decorator.
    """
    if factory is None:
        return OPTIMIZERS.register(name)
    return OPTIMIZERS.register(name, factory)


@overload
def register_schedule(name: str, factory: None = None) -> Callable[[_F], _F]: ...
@overload
def register_schedule(name: str, factory: Factory | str) -> Factory | str: ...
def register_schedule(name: str, factory: Factory | str | None = None) -> Any:
    """Register ``factory(step, total_steps, steps_per_epoch, config) -> float`` as ``train.schedule: name``."""
    if factory is None:
        return SCHEDULES.register(name)
    return SCHEDULES.register(name, factory)


@overload
def register_loss(name: str, factory: None = None) -> Callable[[_F], _F]: ...
@overload
def register_loss(name: str, factory: Factory | str) -> Factory | str: ...
def register_loss(name: str, factory: Factory | str | None = None) -> Any:
    """Register ``factory(config, task, class_counts) -> nn.Module`` as ``train.loss: name``."""
    if factory is None:
        return LOSSES.register(name)
    return LOSSES.register(name, factory)
