"""From model outputs to metrics, by task. The model side is torch; the metrics are pure NumPy."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from deepfit.data.batches import TensorData
from deepfit.evaluation import metrics as M

MetricsFn = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]


@torch.inference_mode()
def predict_outputs(model: nn.Module, inputs: tuple[torch.Tensor, ...], batch_size: int) -> torch.Tensor:
    """Raw model outputs (logits or values) for all rows, in batches, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(inputs[0])
    with torch.no_grad():  # no graph: prediction never backpropagates
        outs = [model(*(t[i : i + batch_size].to(device) for t in inputs)) for i in range(0, n, batch_size)]
    model.train(was_training)
    return torch.cat(outs).float() if outs else torch.empty(0)


def probabilities(outputs: torch.Tensor) -> np.ndarray:
    return torch.softmax(outputs.float(), dim=1).cpu().numpy().astype(np.float64)


def epoch_metrics_fn(task: str, monitor: str, target_scale: tuple[float, float] = (0.0, 1.0)) -> MetricsFn:
    """The cheap per-epoch validation metrics (plus the monitored one), computed once per epoch."""

    def classification(outputs: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        y = target.cpu().numpy()
        if monitor in ("loss", "accuracy"):
            return {"accuracy": float((outputs.argmax(1).cpu().numpy() == y).mean())}
        report = M.classification_report(y, probabilities(outputs), [*range(outputs.shape[1])])
        return {"accuracy": report["accuracy"], monitor: report[monitor]}

    def regression(outputs: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        mean, std = target_scale
        y = target.cpu().numpy() * std + mean
        pred = outputs.cpu().numpy() * std + mean
        report = M.regression_report(y, pred)
        return {k: report[k] for k in {"rmse", "mae", monitor} if k in report}

    return classification if task == "classification" else regression


def full_report(
    task: str,
    outputs: torch.Tensor,
    target: torch.Tensor,
    class_names: list[Any],
    target_scale: tuple[float, float],
) -> dict[str, Any]:
    """Every metric of the task, in original units, JSON-ready."""
    if task == "classification":
        return M.classification_report(target.cpu().numpy(), probabilities(outputs), [str(c) for c in class_names])
    mean, std = target_scale
    y = target.cpu().numpy() * std + mean
    return M.regression_report(y.squeeze(-1) if y.ndim == 2 and y.shape[1] == 1 else y, _unscale(outputs, mean, std))


def _unscale(outputs: torch.Tensor, mean: float, std: float) -> np.ndarray:
    pred = outputs.cpu().numpy().astype(np.float64) * std + mean
    return pred.squeeze(-1) if pred.ndim == 2 and pred.shape[1] == 1 else pred


def target_scale(preprocessor: Any) -> tuple[float, float]:
    """(mean, std) that turn standardised regression outputs back into the target's units."""
    state = getattr(preprocessor, "state", {})
    return state.get("target_mean", 0.0), state.get("target_std", 1.0)


def report_outputs(
    outputs: torch.Tensor,
    target: torch.Tensor,
    spec: Any,
    preprocessor: Any,
    inputs: tuple[torch.Tensor, ...] | None = None,
) -> dict[str, Any]:
    """The task's report; a data kind may give its own (forecasts add naive baselines, for example).

    ``inputs`` (the model inputs of the same rows) reach a kind's ``evaluation_report`` when it takes them:
    a forecast's baselines are made from each window's history.
    """
    custom = getattr(preprocessor, "evaluation_report", None)
    if callable(custom):
        if inputs is not None and "inputs" in inspect.signature(custom).parameters:
            return custom(outputs, target, inputs=inputs)
        return custom(outputs, target)
    return full_report(spec.task, outputs, target, spec.class_names, target_scale(preprocessor))


def evaluate_data(model: nn.Module, data: TensorData, batch_size: int, spec: Any, preprocessor: Any) -> dict[str, Any]:
    outputs = predict_outputs(model, data.inputs, batch_size)
    return report_outputs(outputs, data.target, spec, preprocessor, inputs=data.inputs)
