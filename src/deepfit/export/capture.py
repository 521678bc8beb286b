"""A trained module captured as a file: ONNX (``torch.onnx.export(dynamo=True)``) or ``torch.export`` (.pt2).

Both go through ``torch.export`` with a dynamic batch dimension (``torch.export.Dim``), so one file serves
any batch size. TorchScript is deprecated upstream and left out. A module torch cannot capture (a forward
whose shapes depend on the values of its input, say) is refused with torch's reason.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfit.errors import RunError

FORMATS = {"onnx": "model.onnx", "pt2": "model.pt2"}
_NOISY = ("torch.fx", "torch.export", "torch._export", "torch.onnx", "torch._dynamo", "onnxscript", "torch.utils")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The exporters log graphs and warnings by the page; an export reports success or one error instead."""
    loggers = [logging.getLogger(name) for name in _NOISY]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def dynamic_batch(inputs: tuple[torch.Tensor, ...]) -> tuple[dict[int, Any], ...]:
    return tuple({0: torch.export.Dim.DYNAMIC} for _ in inputs)


def refusal(name: str, exc: BaseException) -> RunError:
    """torch's reason in one line (its messages run to pages of graph code)."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("-", "#", "Failed to export", "def forward"))]
    reason = (useful or lines or [type(exc).__name__])[0][:300]
    data_dependent = "data-dependent" in str(exc) or "GuardOnDataDependent" in type(exc).__name__
    hint = (
        "its forward reads values of its input to decide shapes (trimming padding, packing sequences by "
        "length), which torch.export cannot capture; the run still predicts with deepfit predict"
        if data_dependent
        else "the run still predicts with deepfit predict; see docs/export.md for what exports"
    )
    return RunError(f"the {name} model cannot be exported: torch.export says: {reason}", hint=hint)


def capture(model: nn.Module, inputs: tuple[torch.Tensor, ...], fmt: str, path: Path, name: str) -> None:
    """Write ``model`` (in eval mode) to ``path`` as ``fmt``, its batch dimension dynamic."""
    from deepfit.export.parity import take

    example = take(inputs, 4)  # a batch of 1 would be specialised to 1
    model.eval()
    try:
        with quiet(), torch.no_grad():
            if fmt == "onnx":
                program = torch.onnx.export(
                    model, example, dynamo=True, dynamic_shapes=dynamic_batch(example), verbose=False
                )
                if program is None:
                    raise RuntimeError("torch.onnx.export returned no program")
                program.save(str(path))
            else:
                exported = torch.export.export(model, example, dynamic_shapes=dynamic_batch(example))
                torch.export.save(exported, str(path))
    except RunError:
        raise
    except Exception as exc:  # torch raises many kinds (TorchExportError, UserError, guard failures)
        raise refusal(name, exc) from None


def runner(fmt: str, path: Path) -> Callable[[tuple[np.ndarray, ...]], np.ndarray]:
    """A function running the exported file on NumPy inputs, as the export folder's users will.

    Only for the file this export has just written: ``torch.export.load`` may unpickle parts of a .pt2
    (``weights_only=False`` inside torch), so a .pt2 from elsewhere is as unsafe to load as a pickle.
    """
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run_onnx(arrays: tuple[np.ndarray, ...]) -> np.ndarray:
            return np.asarray(session.run(None, dict(zip(names, arrays, strict=True)))[0])

        return run_onnx
    module = torch.export.load(str(path)).module()

    def run_pt2(arrays: tuple[np.ndarray, ...]) -> np.ndarray:
        with torch.no_grad():
            return module(*(torch.as_tensor(a) for a in arrays)).numpy()

    return run_pt2
