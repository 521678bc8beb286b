"""A split too large for memory scored exactly: its rows streamed in file order through the model.

Only the model's outputs and the targets are kept (a few numbers per row), since metrics such as ROC AUC
need every row's score at once; the rows themselves are never held together.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepfit.data.stream.reader import StreamData


@torch.inference_mode()
def evaluate_stream(
    model: nn.Module, data: StreamData, batch_size: int, spec: Any, preprocessor: Any
) -> dict[str, Any]:
    """The same report as ``evaluation.evaluate.evaluate_data``, from streamed batches."""
    from deepfit.evaluation.evaluate import predict_outputs, report_outputs

    device = next(model.parameters()).device
    outputs, targets = [], []
    for inputs, target in data.to(device).batches(batch_size):
        outputs.append(predict_outputs(model, inputs, batch_size).cpu())
        targets.append(target.cpu())
    return report_outputs(torch.cat(outputs), torch.cat(targets), spec, preprocessor)
