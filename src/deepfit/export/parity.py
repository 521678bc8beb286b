"""Parity of an exported model with the PyTorch module it came from, measured at export time.

The exported file runs on held-out rows at batch 1, 8 and N (all the rows taken, up to ``MAX_ROWS``; rows
are repeated cyclically when fewer than 8 are held out) and its outputs are compared with the module's in
eval mode. The outputs agree when ``|exported - torch| <= atol + rtol * |torch|`` everywhere (NumPy's
``allclose``); the figures (largest absolute and relative difference per batch size, whether the predicted
classes agree) are written to ``parity.json``, and a disagreement is an error naming the largest difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfit.errors import RunError

ATOL, RTOL = 1e-4, 1e-4  # float32 graphs reorder sums: ~1e-7 measured here; 1e-4 leaves room, flags real drift
MAX_ROWS = 1000


def batch_sizes(n: int) -> list[int]:
    return sorted({1, 8, max(n, 1)})


def take(inputs: tuple[torch.Tensor, ...], size: int) -> tuple[torch.Tensor, ...]:
    """The first ``size`` rows, repeating rows when fewer are held out."""
    index = torch.arange(size) % len(inputs[0])
    return tuple(t[index] for t in inputs)


def difference(exported: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> dict[str, Any]:
    absolute = np.abs(exported.astype(np.float64) - reference.astype(np.float64))
    relative = absolute / np.maximum(np.abs(reference.astype(np.float64)), 1e-12)
    return {
        "max_abs_diff": float(absolute.max()) if absolute.size else 0.0,
        "max_rel_diff": float(relative.max()) if relative.size else 0.0,
        "within_tolerance": bool(np.all(absolute <= atol + rtol * np.abs(reference))),
    }


def check_parity(
    model: nn.Module,
    run: Callable[[tuple[np.ndarray, ...]], np.ndarray],
    inputs: tuple[torch.Tensor, ...],
    *,
    task: str,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> dict[str, Any]:
    """The parity figures; a RunError naming the largest difference when they disagree."""
    n = min(len(inputs[0]), MAX_ROWS)
    model.eval()
    batches = []
    for size in batch_sizes(n):
        batch = take(inputs, size)
        with torch.no_grad():
            reference = model(*batch).float().numpy()
        exported = run(tuple(t.numpy() for t in batch))
        if exported.shape != reference.shape:
            raise RunError(
                f"the exported model gives outputs of shape {exported.shape} at batch {size}; "
                f"PyTorch gives {reference.shape}",
                hint="report it with the run's config: the export is not usable",
            )
        figures = {"batch": size, **difference(exported, reference, atol, rtol)}
        if task == "classification":
            figures["same_classes"] = float((exported.argmax(1) == reference.argmax(1)).mean())
        batches.append(figures)
    worst = max(batches, key=lambda b: b["max_abs_diff"])
    result = {
        "rows": n,
        "tolerance": {"atol": atol, "rtol": rtol, "rule": "|exported - torch| <= atol + rtol * |torch|"},
        "batches": batches,
        "max_abs_diff": worst["max_abs_diff"],
        "passed": all(b["within_tolerance"] for b in batches),
    }
    if not result["passed"]:
        listed = ", ".join(f"batch {b['batch']}: {b['max_abs_diff']:.3g}" for b in batches)
        raise RunError(
            f"the exported model disagrees with PyTorch: largest difference {worst['max_abs_diff']:.3g} at batch "
            f"{worst['batch']} (tolerance {atol:g} + {rtol:g} x |output|; {listed})",
            hint="nothing was written; pass --tolerance to accept it, or report the model",
        )
    return result
