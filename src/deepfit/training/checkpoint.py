"""Checkpoints: an explicit dict, saved from the unwrapped module, written atomically."""

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
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any], durable: bool = True) -> None:
    atomic_write(path, lambda f: torch.save(state, f), mode="wb", durable=durable)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise RunError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise RunError(f"{path} is not a readable checkpoint: {exc}") from None


def checkpoint_dict(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to continue: weights, optimizer, schedule, counters, callbacks, RNG states."""
    return {
        "model": unwrap(state.model).state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "schedule": state.schedule.state_dict(),
        "scaler": state.scaler.state_dict() if state.scaler is not None else {},
        "lr": state.schedule.base_lr,
        "epoch": state.epoch,
        "step": state.step,
        "history": state.history,
        "extra": state.extra,
        "rng": rng_state(),
        **payload,
    }
