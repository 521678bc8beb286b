"""The learning-rate range test (Smith, 2015): raise the rate exponentially over a few hundred steps,
record the smoothed loss, stop when it explodes, and suggest the rate where it fell fastest. Each step is
the run's own training step (``deepfit.training.steps.SupervisedStep``).

The model, optimizer state and RNG are restored afterwards, so ``train.lr: auto`` leaves no trace on
the run it precedes except the chosen rate.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from deepfit.config import ScheduleConfig, TrainConfig
from deepfit.data.batches import TensorData
from deepfit.training.steps import SupervisedStep


@dataclass
class LRFindResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # exponentially smoothed, bias-corrected
    suggestion: float = 1e-3
    reason: str = ""


def find_lr(
    model: nn.Module,
    train: TensorData,
    config: TrainConfig,
    *,
    loss: nn.Module,
    device: torch.device | str = "cpu",
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    smoothing: float = 0.05,
) -> LRFindResult:
    """Run the range test on ``train``; the model's weights are untouched when it returns.

    It is the training step of a run (``SupervisedStep``: precision, L1, clipping, the optimizer), one batch
    per step, with the rate set before each step instead of by the schedule.
    """
    saved_weights = copy.deepcopy(model.state_dict())
    saved_rng = torch.get_rng_state()
    device = torch.device(device)
    # one step per batch at a fixed base rate; the schedule must not move the rate we set
    settings = config.model_copy(update={"lr": start_lr, "accumulate": 1, "schedule": ScheduleConfig()})
    step = SupervisedStep(loss)
    step.begin(model, model, train, settings, device)
    factor = (end_lr / start_lr) ** (1 / max(steps - 1, 1))
    result, average, best = LRFindResult(), 0.0, math.inf
    generator = torch.Generator().manual_seed(config.seed)
    data = train.to(device)
    model.train()
    done = 0
    while done < steps:
        step.start_epoch(None)
        for index, batch in enumerate(data.batches(config.batch_size, shuffle=True, generator=generator)):
            lr = start_lr * factor**done
            step.schedule.base_lr = lr
            step.schedule.step()  # sets every group's rate to the new base (a constant schedule)
            step.step(index, batch, None)
            value = step.last_loss.item()  # one sync per step is fine here: this is a short diagnostic run
            average = smoothing * value + (1 - smoothing) * average
            smoothed = average / (1 - (1 - smoothing) ** (done + 1))
            result.lrs.append(lr)
            result.losses.append(smoothed)
            best = min(best, smoothed)
            done += 1
            if not math.isfinite(smoothed) or smoothed > 4 * best or done >= steps:
                done = steps  # diverged (or done): the rest of the range says nothing more
                break
    model.load_state_dict(saved_weights)
    torch.set_rng_state(saved_rng)
    result.suggestion, result.reason = suggest(result.lrs, result.losses)
    return result


def suggest(lrs: list[float], losses: list[float]) -> tuple[float, str]:
    """The rate where the smoothed loss falls fastest (steepest negative slope in log-lr), before its minimum.

    >>> lrs = [10 ** (i / 10 - 6) for i in range(50)]
    >>> losses = [2.0 if lr < 1e-4 else max(0.1, 2.0 - (np.log10(lr) + 4)) for lr in lrs]
    >>> -4 < float(np.log10(suggest(lrs, losses)[0])) < -2   # inside the falling stretch, 1e-4 .. 1e-2
    True
    """
    values = np.asarray(losses, dtype=float)
    finite = np.isfinite(values)
    if finite.sum() < 10:
        return 1e-3, "the loss was not finite long enough to measure; using 1e-3"
    log_lrs, values = np.log10(np.asarray(lrs)[finite]), values[finite]
    skip = max(3, len(values) // 10)  # the smoothed curve's first points are still mostly noise
    lowest = int(np.argmin(values))
    window = max(2, len(values) // 20)
    if lowest - skip <= window:
        return float(10 ** log_lrs[0]), "the loss never fell; the smallest rate tried"
    # slope over a short window rather than between neighbours, which jitter
    slopes = (values[skip + window : lowest + 1] - values[skip : lowest + 1 - window]) / (
        log_lrs[skip + window : lowest + 1] - log_lrs[skip : lowest + 1 - window]
    )
    steepest = skip + int(np.argmin(slopes)) + window // 2
    lr, minimum = 10 ** log_lrs[steepest], 10 ** log_lrs[lowest]
    return float(lr), f"steepest descent of the loss at lr={lr:.2g} (minimum at {minimum:.2g})"


def plot(result: LRFindResult, path: str) -> None:
    """Loss against learning rate (log axis), the suggestion marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=110)
    ax.plot(result.lrs, result.losses, color="#3b6ea8", linewidth=2)
    ax.axvline(result.suggestion, color="#d1495b", linestyle="--", label=f"suggested {result.suggestion:.2g}")
    ax.set_xscale("log")
    finite = [v for v in result.losses if math.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, min(max(finite), 4 * min(finite)) * 1.05)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("Learning-rate range test")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
