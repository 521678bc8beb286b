"""Optional experiment loggers, as callbacks: TensorBoard event files and MLflow.

Each is used only when the user installs it (``pip install deepfit[tensorboard]``, ``deepfit[mlflow]``)
and names it in ``output.loggers``; ``metrics.jsonl`` is always written regardless.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfit.config import flatten
from deepfit.errors import ConfigError
from deepfit.training.callbacks import TrainState

_PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}


def require_loggers(names: Sequence[str]) -> None:
    """Fail before anything is written when a named logger's package is missing."""
    for name in names:
        _require(name)


def _require(name: str) -> None:
    if importlib.util.find_spec(_PACKAGES[name]) is None:
        raise ConfigError(
            f"output.loggers names {name}, but the {name} package is not installed",
            hint=f"pip install 'deepfit[{name}]', or remove {name} from output.loggers",
        )


def _scalars(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if k != "epoch" and isinstance(v, int | float)}


class TensorBoardLogger:
    """Event files in ``<run>/tensorboard``: ``tensorboard --logdir runs/`` shows every run."""

    def __init__(self, run_dir: str | Path) -> None:
        _require("tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def on_epoch_end(self, state: TrainState) -> None:
        for key, value in _scalars(state.logs).items():
            split, _, metric = key.partition("_")  # train_loss and val_loss side by side as loss/train, loss/val
            self.writer.add_scalar(f"{metric}/{split}" if split in ("train", "val") else key, value, state.epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MLflowLogger:
    """An MLflow run (tracking URI from MLFLOW_TRACKING_URI, else ./mlruns) with the config as params."""

    def __init__(self, run_dir: str | Path, config: dict[str, Any]) -> None:
        _require("mlflow")
        import mlflow

        self.mlflow, self.run_name, self.config = mlflow, Path(run_dir).name, config
        self.active = False

    def on_fit_begin(self, state: TrainState) -> None:
        self.mlflow.start_run(run_name=self.run_name)
        self.active = True
        self.mlflow.log_params({k: str(v)[:500] for k, v in flatten(self.config).items()})  # MLflow caps values

    def on_epoch_end(self, state: TrainState) -> None:
        self.mlflow.log_metrics(_scalars(state.logs), step=state.epoch)

    def close(self) -> None:
        if self.active:
            self.mlflow.end_run()
            self.active = False


def build_loggers(names: Sequence[str], run_dir: str | Path, config: dict[str, Any]) -> list[Any]:
    loggers: list[Any] = []
    for name in names:
        loggers.append(TensorBoardLogger(run_dir) if name == "tensorboard" else MLflowLogger(run_dir, config))
    return loggers
