"""A data kind defined outside deepfit (tests/plugin_kind/pointcloud.py), registered from here, then trained,
resumed, evaluated and predicted with the command line, without a change to deepfit's files."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

import deepfit
from deepfit.cli import main
from deepfit.data import registry
from tests.plugin_kind.pointcloud import write_clouds

PLUGIN = "tests.plugin_kind.pointcloud:PointCloudKind"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pointcloud() -> Iterator[None]:
    with registry.KINDS.scoped():
        deepfit.register_data_kind("pointcloud", PLUGIN)
        yield


@pytest.mark.usefixtures("pointcloud", "one_thread")
def test_a_plugin_kind_trains_resumes_evaluates_and_predicts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = write_clouds(tmp_path / "clouds.npz")
    config = tmp_path / "clouds.yaml"
    config.write_text(
        f"data: {{source: {data}}}\nmodel: {{name: mlp, hidden: [8]}}\ntrain: {{epochs: 3, batch_size: 16}}\n"
    )
    run = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(run), "--quiet"]) == 0
    saved = json.loads((run / "model" / "preprocessing.json").read_text())
    assert saved["kind"] == "pointcloud"
    assert "pointcloud" in json.loads((run / "data_report.json").read_text())

    (run / "eval.json").unlink()  # as if killed after its last checkpoint
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert (run / "eval.json").exists()

    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["n_samples"] == 60
    assert main(["predict", str(run), str(data), "-o", str(tmp_path / "p.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert len(predictions) == 60 and set(predictions["prediction"]) <= {"ball", "rod"}


def test_an_installed_plugin_is_found_through_its_entry_point(tmp_path: Path) -> None:
    """A package declaring ``[deepfit.data_kinds]`` is known to the deepfit command, with nothing imported."""
    info = tmp_path / "deepfit_pointcloud-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deepfit-pointcloud\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[deepfit.data_kinds]\npointcloud = {PLUGIN}\n")
    code = "import sys; from deepfit.data.registry import kind_names; print(kind_names(), 'torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pointcloud', 'image', 'text', 'timeseries', 'sequence', 'tabular'] False"


def test_register_data_kind_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="The 'name' parameter of register_data_kind must be an identifier"):
        deepfit.register_data_kind("point cloud", PLUGIN)
    with pytest.raises(ValueError, match=r"must be a DataKind subclass or a 'module:Class' string\. Got 3 instead"):
        deepfit.register_data_kind("pointcloud", 3)


@pytest.fixture
def every_family() -> Iterator[None]:
    """A data kind, an architecture with its own keys, an optimizer and a schedule, all from outside deepfit."""
    from deepfit.models import registry as models
    from deepfit.training import registry as training
    from tests.plugin_kind import parts

    scopes = [registry.KINDS, models.ARCHITECTURES, models.CONFIGS, training.OPTIMIZERS, training.SCHEDULES]
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(scope.scoped())
        parts.register_all()
        yield


@pytest.mark.usefixtures("every_family", "one_thread")
def test_every_family_plugs_in_from_outside_and_runs_through_the_cli(tmp_path: Path, capsys) -> None:
    from tests.plugin_kind.parts import USED

    data = write_clouds(tmp_path / "clouds.npz")
    config = tmp_path / "clouds.yaml"
    config.write_text(
        f"data: {{source: {data}}}\n"
        "model: {name: tanhnet, width: 12}\n"
        "train: {epochs: 4, batch_size: 16, lr: 0.05, optimizer: heavy_ball, schedule: halving}\n"
    )
    run = tmp_path / "run"
    assert main(["train", str(config), "--run-dir", str(run), "--quiet"]) == 0
    assert USED["builder"] and USED["optimizer"] and USED["schedule"]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["kind"] == "pointcloud"
    assert saved["model"] == {"name": "tanhnet", "max_params": None, "dropout": 0.1, "width": 12}  # its keys only
    assert (saved["train"]["optimizer"]["name"], saved["train"]["schedule"]["name"]) == ("heavy_ball", "halving")
    rates = [row["lr"] for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert rates == pytest.approx([0.05, 0.025, 0.025, 0.0125])  # halving, read at each epoch's end

    (run / "eval.json").unlink()  # as if killed after its last checkpoint
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["accuracy"] > 0.8
    assert main(["predict", str(run), str(data), "-o", str(tmp_path / "p.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "p.csv")["prediction"]) <= {"ball", "rod"}

    config.write_text(config.read_text().replace("width: 12", "widht: 12"))
    assert main(["train", str(config), "--run-dir", str(tmp_path / "typo"), "--quiet"]) == 2
    assert "did you mean 'width'" in capsys.readouterr().err  # its own keys are checked like deepfit's


def test_an_installed_package_declares_an_optimizer_schedule_loss_and_augmentation(tmp_path: Path) -> None:
    """Entry points make a plugin's names valid in any process (the CLI, tuning workers), importing nothing."""
    info = tmp_path / "deepfit_parts-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: deepfit-parts\nVersion: 0.1\n")
    parts = "tests.plugin_kind.parts"
    (info / "entry_points.txt").write_text(
        f"[deepfit.optimizers]\nheavy_ball = {parts}:heavy_ball\n[deepfit.schedules]\nhalving = {parts}:halving\n"
        f"[deepfit.losses]\nplain_mse = torch.nn:MSELoss\n[deepfit.augmentations]\ninvert = {parts}:halving\n"
    )
    code = (
        "import sys; from deepfit.config import load_config; "
        "c = load_config({'train': {'optimizer': 'heavy_ball', 'schedule': 'halving', 'loss': 'plain_mse'}, "
        "'data': {'augment': {'custom': {'invert': 1.0}}}}); "
        "print(c.train.optimizer.name, c.train.schedule.name, c.train.loss, list(c.data.augment.custom), "
        "'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "heavy_ball halving plain_mse ['invert'] False"
