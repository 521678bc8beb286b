from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import deepfit
from deepfit.errors import ConfigError
from tests.conftest import FAST


def test_tensorboard_event_files_hold_the_epochs(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    deepfit.train("examples/iris.yaml", run_dir=tmp_path / "r", overrides={**FAST, "output.loggers": ["tensorboard"]})
    events = EventAccumulator(str(tmp_path / "r" / "tensorboard")).Reload()
    assert "loss/train" in events.Tags()["scalars"] and "loss/val" in events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("loss/train")] == [1, 2, 3, 4]


def test_mlflow_receives_params_and_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, list] = {"start_run": [], "log_params": [], "log_metrics": [], "end_run": []}
    fake = types.ModuleType("mlflow")
    for name in calls:
        setattr(fake, name, lambda *a, _n=name, **k: calls[_n].append((a, k)))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())
    deepfit.train("examples/iris.yaml", run_dir=tmp_path / "r", overrides={**FAST, "output.loggers": ["mlflow"]})
    assert calls["start_run"][0][1] == {"run_name": "r"}
    assert calls["log_params"][0][0][0]["train.epochs"] == "4"
    assert [k["step"] for _, k in calls["log_metrics"]] == [1, 2, 3, 4]
    assert "val_loss" in calls["log_metrics"][0][0][0] and len(calls["end_run"]) == 1


def test_missing_logger_package_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(ConfigError, match=r"pip install 'deepfit\[mlflow\]'"):
        deepfit.train("examples/iris.yaml", run_dir=tmp_path / "r", overrides={**FAST, "output.loggers": ["mlflow"]})
    assert not (tmp_path / "r").exists()  # refused before anything was written
