"""`deepfit runs`: the listing of a folder of runs and `--compare` of two, on real tiny runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deepfit.api import train
from deepfit.cli import main
from deepfit.runs_table import best_epoch, config_diff, find_runs, flatten, format_metric, summarize_run

TINY = {"data": {"source": "builtin:iris"}, "model": {"hidden": [8]}, "train": {"epochs": 3}}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    train(TINY, run_dir=root / "slow", train__lr=1e-3)
    train(TINY, run_dir=root / "fast", train__lr=3e-2)
    (root / "notes").mkdir()  # not a run: ignored
    return root


def _metric(run: Path, split: str, name: str) -> str:
    return format_metric(json.loads((run / "eval.json").read_text())[split][name])


def test_runs_lists_both_runs_with_their_metrics(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Classification runs" in out and "notes" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in ("slow", "fast")}
    assert set(lines) == {"slow", "fast"}
    for name, line in lines.items():
        for split in ("validation", "test"):
            for metric in ("accuracy", "f1_macro"):
                assert _metric(folder / name, split, metric) in line
        assert "builtin:iris" in line and "3 (" in line  # epochs (best epoch)
    assert out.index("slow") < out.index("fast")  # oldest first


def test_compare_shows_the_changed_key_and_both_metrics(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--compare", str(folder / "slow"), str(folder / "fast")]) == 0
    out = capsys.readouterr().out
    lr_line = next(line for line in out.splitlines() if "train.lr" in line)
    assert "0.001" in lr_line and "0.03" in lr_line
    assert "data.source" not in out  # unchanged keys are not listed
    accuracy = next(line for line in out.splitlines() if line.split()[:1] == ["accuracy"])
    for run in ("slow", "fast"):
        assert _metric(folder / run, "test", "accuracy") in accuracy
        assert _metric(folder / run, "validation", "accuracy") in accuracy


def test_compare_takes_run_names_inside_the_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(folder), "--compare", "slow", "fast"]) == 0
    assert "train.lr" in capsys.readouterr().out
    assert main(["runs", str(folder), "--compare", "slow", "nope"]) == 2
    assert "nope is not a deepfit run directory" in capsys.readouterr().err


def test_runs_of_an_empty_or_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(tmp_path)]) == 0
    assert "no runs in" in capsys.readouterr().err
    assert main(["runs", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_an_unfinished_run_is_listed_without_metrics(folder: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(folder / "slow", tmp_path / "unfinished"))
    (run / "eval.json").unlink()
    shutil.rmtree(run / "model")
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1.0}\n{"epoch": 2, "train_loss": 1.1}\n{"epo')
    [summary] = find_runs(tmp_path)
    assert summary.task == "classification" and summary.metric("test", "accuracy") is None
    assert summary.epochs == 2 and summary.best_epoch == 1  # a cut-off last line costs that line only


def test_summary_matches_the_training_result(tmp_path: Path) -> None:
    result = train(TINY, run_dir=tmp_path / "run")
    summary = summarize_run(result.run_dir)
    assert summary.best_epoch == result.best_epoch
    assert summary.epochs == len(result.history) and summary.dataset == "builtin:iris"


def test_best_epoch_follows_the_monitor_direction() -> None:
    history = [{"epoch": 1, "val_loss": 0.9, "val_accuracy": 0.5}, {"epoch": 2, "val_loss": 0.7, "val_accuracy": 0.8}]
    history.append({"epoch": 3, "val_loss": 0.8, "val_accuracy": 0.9})
    assert best_epoch(history, "loss") == 2
    assert best_epoch(history, "accuracy") == 3
    assert best_epoch([{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0}], "loss") == 2
    assert best_epoch([], "loss") is None


def test_flatten_and_config_diff() -> None:
    a = {"train": {"lr": 0.1, "schedule": {"name": "cosine"}}, "model": {"hidden": [8]}, "data": {"column_types": {}}}
    b = {"train": {"lr": 0.2, "schedule": {"name": "cosine"}}, "model": {"hidden": [8, 8]}, "eval": {"metrics": None}}
    assert flatten(a) == {
        "train.lr": 0.1,
        "train.schedule.name": "cosine",
        "model.hidden": [8],
        "data.column_types": {},
    }
    assert config_diff(a, b) == [
        ("data.column_types", {}, None),
        ("model.hidden", [8], [8, 8]),
        ("train.lr", 0.1, 0.2),
    ]
