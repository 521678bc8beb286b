from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import deepfit
from deepfit.config import TrainConfig
from deepfit.data.batches import TensorData
from deepfit.training.lr_finder import find_lr, suggest


def blobs(n: int = 256) -> TensorData:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return TensorData((centers[y] + 0.5 * torch.randn(n, 2, generator=g),), y)


def test_range_test_suggests_a_working_rate_and_leaves_the_model_untouched() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = find_lr(model, blobs(), TrainConfig(batch_size=32), loss=nn.CrossEntropyLoss())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert 1e-4 < result.suggestion < 1.0
    assert result.lrs == sorted(result.lrs) and len(result.lrs) == len(result.losses)
    assert result.losses[-1] > min(result.losses)  # it ran into the divergent end and stopped


def test_suggestion_on_a_flat_loss_is_the_smallest_rate() -> None:
    lrs = [10 ** (i / 10 - 7) for i in range(40)]
    assert suggest(lrs, [1.0 + 0.01 * i for i in range(40)])[0] == lrs[0]


def test_lr_auto_trains(tmp_path: Path) -> None:
    result = deepfit.train(
        "examples/iris.yaml", run_dir=tmp_path / "r", overrides={"train.lr": "auto", "train.epochs": 30}
    )
    assert result.metrics["test"]["accuracy"] > 0.8


def test_lr_find_command_writes_a_plot(tmp_path: Path, capsys) -> None:
    from deepfit.cli import main

    plot = tmp_path / "lr.png"
    assert main(["lr-find", "examples/iris.yaml", "-o", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "suggested learning rate:" in capsys.readouterr().out
