"""Checkpoints: an explicit dict, saved from the unwrapped module, written atomically.

Every checkpoint holds tensors and plain Python values only (RNG states included), so every load uses
``torch.load(..., weights_only=True)``: a checkpoint someone planted in a run directory cannot run code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfit.errors import RunError
from deepfit.runs import atomic_write


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module under torch.compile (``_orig_mod``) or DDP (``module``) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or (
            model.module if isinstance(model, nn.parallel.DistributedDataParallel) else None
        )
        if inner is None:
            return model
        model = inner


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) generator states as tensors and plain values (no pickled objects)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    numpy_state = {**state["numpy"], "state": dict(state["numpy"]["state"])}
    numpy_state["state"]["key"] = numpy_state["state"]["key"].numpy().astype(np.uint32)
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value: Any) -> Any:
    """``random.setstate`` wants the tuples it gave; a checkpoint may hold them as lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value


def plain(value: Any) -> Any:
    """NumPy scalars and arrays (in histories, callback states) as Python numbers and tensors."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return value


def save_checkpoint(path: str | Path, state: dict[str, Any], durable: bool = True) -> None:
    state = plain(state)
    atomic_write(path, lambda f: torch.save(state, f), mode="wb", durable=durable)


def load_checkpoint(path: str | Path, what: str = "checkpoint") -> dict[str, Any]:
    """Load with ``weights_only=True``: tensors and plain values only, never code.

    A file that needs more (a planted pickle, another program's checkpoint) or that is cut short is one
    :class:`RunError` naming the file, not torch's advice to load it unsafely.
    """
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{what} not found: {path}", hint="is this a complete deepfit run directory?")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "it holds Python objects other than tensors and plain values, which deepfit never loads"
        else:  # a truncated or foreign file
            reason = f"it is damaged or not a PyTorch file ({str(exc).splitlines()[0][:160]})"
        raise RunError(
            f"{path} is not a {what} deepfit can load: {reason}",
            hint="deepfit writes only tensors and plain values; if this file was not made by deepfit, do not use it",
        ) from None


def checkpoint_dict(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to continue: weights, the step's optimizers and schedules, counters, callbacks, RNG
    states. A supervised step's keys are ``optimizer``, ``schedule``, ``scaler`` and ``lr``."""
    if state.train_step is not None:
        step_state = state.train_step.state_dict()
    else:  # a TrainState built by hand, outside Trainer.fit
        step_state = {
            "optimizer": state.optimizer.state_dict(),
            "schedule": state.schedule.state_dict(),
            "scaler": state.scaler.state_dict() if state.scaler is not None else {},
            "lr": state.schedule.base_lr,
        }
    consolidated = getattr(state, "consolidated", None)  # FSDP: gathered by every rank for this save
    if consolidated is not None:
        step_state = {**step_state, "optimizer": consolidated["optimizer"]}
    return {
        "model": consolidated["model"] if consolidated is not None else unwrap(state.model).state_dict(),
        **step_state,
        "epoch": state.epoch,
        "step": state.step,
        "history": state.history,
        "extra": state.extra,
        "rng": rng_state(),
        **payload,
    }
