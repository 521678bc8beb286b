"""Train your own nn.Module with deepfit's loop: optimizers, schedules, early stopping, callbacks.

python examples/custom_trainer.py
"""

from __future__ import annotations

import torch
from torch import nn

from deepfit import Trainer
from deepfit.data.batches import TensorData


class PrintEveryTen:
    """A user callback: any object with some of the events (on_epoch_end, after_backward, ...)."""

    def on_epoch_end(self, state) -> None:
        if state.epoch % 10 == 0:
            print(f"epoch {state.epoch}: train {state.logs['train_loss']:.4f}  val {state.logs['val_loss']:.4f}")


def main() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(512, 1, generator=g) * 4 - 2
    y = 2 * x + 3 + 0.05 * torch.randn(512, 1, generator=g)  # y = 2x + 3
    train, val = TensorData((x[:400],), y[:400]), TensorData((x[400:],), y[400:])

    model = nn.Linear(1, 1)
    config = {"epochs": 50, "lr": 0.05, "optimizer": "sgd", "schedule": "constant", "weight_decay": 0.0}
    result = Trainer(config, callbacks=[PrintEveryTen()]).fit(model, train, val, loss=nn.MSELoss())
    print(f"learned y = {model.weight.item():.3f} x + {model.bias.item():.3f} after {result.epochs} epochs")


if __name__ == "__main__":
    main()
