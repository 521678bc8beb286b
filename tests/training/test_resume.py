"""Exact resume: a run interrupted mid-epoch by a real SIGINT, then resumed, equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

import deepfit
from deepfit.errors import RunError
from deepfit.training.checkpoint import load_checkpoint
from deepfit.training.trainer import TrainingInterrupted

# dropout, shuffling, a schedule with warm-up and early stopping state: everything random or stateful
CONFIG = {
    "data": {"source": "builtin:wine"},
    "model": {"name": "mlp", "hidden": [32, 16], "dropout": 0.3},
    "train": {"epochs": 6, "batch_size": 16, "lr": 0.003, "schedule": {"name": "cosine", "warmup_epochs": 1}},
}


class InterruptAt:
    """Sends this process a real SIGINT (Ctrl-C) after the given optimizer step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, state) -> None:
        if state.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model" / "weights.pt", weights_only=True)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_interrupted_mid_epoch_then_resumed_equals_uninterrupted(tmp_path: Path, accumulate: int) -> None:
    config = {**CONFIG, "train": {**CONFIG["train"], "accumulate": accumulate}}
    straight = deepfit.train(config, run_dir=tmp_path / "straight")

    # 124 training rows in batches of 16: 8 micro-batches an epoch; step 17 falls inside a later epoch
    with pytest.raises(TrainingInterrupted, match="deepfit train --resume"):
        deepfit.train(config, run_dir=tmp_path / "cut", callbacks=[InterruptAt(17)])
    position = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["extra"]["position"]
    assert position is not None and position["batch"] > 0  # saved mid-epoch

    resumed = deepfit.train(resume=tmp_path / "cut")
    assert resumed.history == straight.history
    assert resumed.metrics == straight.metrics
    for name, tensor in weights(tmp_path / "straight").items():
        assert torch.equal(tensor, weights(tmp_path / "cut")[name]), name


def test_resume_refuses_an_incompatible_config(tmp_path: Path) -> None:
    with pytest.raises(TrainingInterrupted):
        deepfit.train(CONFIG, run_dir=tmp_path / "cut", callbacks=[InterruptAt(3)])
    other = {**CONFIG, "model": {**CONFIG["model"], "hidden": [64]}}
    with pytest.raises(RunError, match=r"different config \(model.hidden differ\)"):
        deepfit.train(other, resume=tmp_path / "cut")


def test_resume_without_a_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no run directory"):
        deepfit.train(resume=tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="checkpoint not found"):
        deepfit.train(resume=tmp_path / "empty")
