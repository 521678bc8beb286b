"""Per-epoch time of deepfit's loop against hand-written PyTorch loops, same model and data, one process.

    python bench/loop_overhead.py [--epochs 20] [--repeats 5]

(a) a hand-written loop slicing in-memory tensors by index — the target;
(b) the same loop over torch.utils.data.DataLoader;
(c) deepfit's Trainer as `deepfit train` runs it: progress bar, diagnostics, metrics.jsonl, checkpoints;
(d) deepfit's Trainer with no callbacks (the loop alone).
Every variant validates once per epoch (loss and accuracy), as a user's run does. The variants alternate,
the first epoch of each run is dropped (warm-up), and the medians of the remaining epochs are compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deepfit.config import OutputConfig, load_config
from deepfit.data.batches import TensorData
from deepfit.data.pipeline import prepare
from deepfit.evaluation.evaluate import epoch_metrics_fn
from deepfit.training.callbacks import Checkpointer, MetricsLog, ProgressBar
from deepfit.training.trainer import Trainer

BATCH, LR = 64, 1e-3


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(61, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def validate(model: nn.Module, val: TensorData, loss_fn: nn.Module) -> tuple[float, float]:
    model.eval()
    with torch.inference_mode():
        out = model(*val.inputs)
        result = loss_fn(out, val.target).item(), (out.argmax(1) == val.target).float().mean().item()
    model.train()
    return result


def hand_loop(train: TensorData, val: TensorData, epochs: int) -> list[float]:
    model, loss_fn = mlp(), nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    (x,), y = train.inputs, train.target
    times, g = [], torch.Generator().manual_seed(0)
    for _ in range(epochs):
        start = time.perf_counter()
        total = torch.zeros(())
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), BATCH):
            idx = order[i : i + BATCH]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)
        _ = (total / len(y)).item(), validate(model, val, loss_fn)
        times.append(time.perf_counter() - start)
    return times


def dataloader_loop(train: TensorData, val: TensorData, epochs: int) -> list[float]:
    model, loss_fn = mlp(), nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    dataset = torch.utils.data.TensorDataset(train.inputs[0], train.target)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        total = torch.zeros(())
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(yb)
        _ = (total / len(dataset)).item(), validate(model, val, loss_fn)
        times.append(time.perf_counter() - start)
    return times


class EpochClock:
    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_fit_begin(self, state) -> None:
        self.marks.append(time.perf_counter())

    def on_epoch_end(self, state) -> None:
        self.marks.append(time.perf_counter())


def deepfit_loop(train: TensorData, val: TensorData, epochs: int, full: bool) -> list[float]:
    config = {"epochs": epochs, "batch_size": BATCH, "lr": LR, "weight_decay": 0.01, "schedule": "constant"}
    config["early_stopping"] = {"enabled": False}
    clock = EpochClock()
    callbacks: list = []
    with tempfile.TemporaryDirectory() as run, open(os.devnull, "w") as sink:
        if full:
            from rich.console import Console

            from deepfit.training.diagnostics import Diagnostics

            console = Console(file=sink, force_terminal=True)  # rendered, as on a terminal
            callbacks = [
                MetricsLog(run),
                Diagnostics(run, console=console),
                Checkpointer(run, min_seconds=OutputConfig().checkpoint_seconds),  # the config's default
                ProgressBar(console=console),
            ]
        trainer = Trainer(config, callbacks=[*callbacks, clock], metrics_fn=epoch_metrics_fn("classification", "loss"))
        trainer.fit(mlp(), train, val, task="classification")
    return [b - a for a, b in zip(clock.marks, clock.marks[1:], strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    prepared = prepare(load_config({"data": {"source": "builtin:digits"}}))
    train, val = prepared.tensors["train"], prepared.tensors["validation"]
    variants = {
        "(a) hand-written, tensor slicing": lambda: hand_loop(train, val, args.epochs),
        "(b) hand-written, DataLoader": lambda: dataloader_loop(train, val, args.epochs),
        "(c) deepfit, as `deepfit train` runs": lambda: deepfit_loop(train, val, args.epochs, full=True),
        "(d) deepfit, loop only": lambda: deepfit_loop(train, val, args.epochs, full=False),
    }
    epochs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # alternate, so drift in machine load hits every variant alike
        for name, run in variants.items():
            epochs[name].extend(run()[1:])
    baseline = statistics.median(epochs["(a) hand-written, tensor slicing"])
    print(f"digits MLP 61-256-128-10, {len(train)} training rows, batch {BATCH}, {args.epochs} epochs x {args.repeats}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print(f"{'variant':40s} {'median ms/epoch':>16s} {'vs (a)':>8s}")
    for name, times in epochs.items():
        median = statistics.median(times)
        print(f"{name:40s} {median * 1e3:16.2f} {median / baseline:8.3f}x")


if __name__ == "__main__":
    main()
