"""The step contract: one backward pass in the whole package, and a step's state round-trips a checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from deepfit.config import TrainConfig
from deepfit.data.batches import TensorData
from deepfit.training.steps import SupervisedStep

SRC = Path(__file__).resolve().parents[2] / "src" / "deepfit"


def test_exactly_one_backward_call_in_the_package() -> None:
    calls = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.backward\(", line)
    ]
    assert len(calls) == 1 and calls[0].startswith("training/steps.py:"), calls  # steps.backward


def test_a_supervised_step_takes_an_optimizer_step_per_accumulated_group() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    data = TensorData((torch.randn(10, 3),), torch.randn(10, 1))
    step = SupervisedStep(nn.MSELoss())
    step.begin(model, model, data, TrainConfig(batch_size=2, accumulate=2, lr=0.1, epochs=1), torch.device("cpu"))
    step.start_epoch(None)
    taken = [step.step(i, batch, None) for i, batch in enumerate(data.batches(2))]
    assert taken == [False, True, False, True, True]  # 5 micro-batches: groups of 2, 2 and the last 1
    assert step.schedule.step_count == 3
    saved = step.state_dict()
    assert set(saved) == {"optimizer", "schedule", "scaler", "lr"}  # the supervised checkpoint keys, unchanged
    assert step.epoch_logs(len(data))["train_loss"] > 0


def test_no_module_below_the_api_imports_it() -> None:
    below = [SRC / name for name in ("training", "models", "evaluation", "data")]
    importers = [
        str(path.relative_to(SRC))
        for folder in below
        for path in sorted(folder.rglob("*.py"))
        if re.search(r"from deepfit\.api import|import deepfit\.api|from deepfit import api", path.read_text())
    ]
    assert importers == []
