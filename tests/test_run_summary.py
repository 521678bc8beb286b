"""`deepfit runs`: the listing of a folder of runs and `--compare` of two, on real tiny runs."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from deepfit.api import train
from deepfit.cli import main
from deepfit.config import flatten
from deepfit.errors import RunError
from deepfit.run_summary import (
    best_epoch,
    config_diff,
    find_runs,
    format_metric,
    resolve_run,
    runs_tables,
    summarize_run,
)

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
    assert flatten({"data": {"column_types": {"zip": "categorical"}}}) == {"data.column_types": {"zip": "categorical"}}
    assert config_diff(a, b) == [
        ("data.column_types", {}, None),
        ("model.hidden", [8], [8, 8]),
        ("train.lr", 0.1, 0.2),
    ]


# ---------------------------------------------------------------- an 80-column terminal, and names that resolve
def _rename(run: Path, to: Path, source: str, name: str | None = None) -> Path:
    """A copy of ``run`` at ``to`` whose config reads ``source`` (and has ``output.name``), as training it would."""
    import yaml

    copy = Path(shutil.copytree(run, to))
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["data"]["source"] = source
    config.setdefault("output", {})["name"] = name
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


@pytest.fixture
def long_names(folder: Path, tmp_path: Path) -> Path:
    """Runs as `deepfit train house.yaml` names them, on data given by an absolute path: the tester's case."""
    root = tmp_path / "runs"
    source = "/home/someone/projects/pricing/data/raw/house_prices_2024.csv"
    for stamp in ("20240501-120301", "20240501-130302", "20240502-091500"):
        _rename(folder / "slow", root / f"house-price-model-{stamp}", source, name="house-price-model")
    _rename(folder / "fast", root / "iris-baseline-20240503-080000", "builtin:iris")
    return root


def _render(tables: list, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO())
    for table in tables:
        console.print(table)
    return console.export_text().splitlines()


def test_the_listing_fits_80_columns_with_each_run_name_on_one_line(long_names: Path) -> None:
    runs = find_runs(long_names)
    lines = _render(runs_tables(runs, where=str(long_names)), 80)
    assert max(map(len, lines)) <= 80, "\n".join(lines)
    for run in runs:
        [line] = [line for line in lines if run.path.name in line]  # whole, on exactly one line
        assert line.startswith(run.path.name)
        assert run.metric("test", "accuracy") is None or format_metric(run.metric("test", "accuracy")) in line
    rows = [line for line in lines if line.startswith("house-price-model-")]
    assert len(rows) == 3 and all("house_prices_2024.csv" in line for line in rows)
    assert not any("/home/someone" in line for line in lines)  # no absolute paths


def test_a_wide_console_gets_every_column(long_names: Path) -> None:
    lines = _render(runs_tables(find_runs(long_names)), 160)
    header = " ".join(lines[:4])
    for column in ("run", "finished", "dataset", "epochs", "accuracy", "f1_macro", "val", "test"):
        assert column in header
    assert any(re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d house_prices_2024.csv ", line) for line in lines)


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160])
def test_every_listed_name_resolves_to_its_run(long_names: Path, width: int) -> None:
    runs = find_runs(long_names)
    lines = _render(runs_tables(runs), width)
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    listed = [line.split()[0] for line in lines[rule + 1 :] if line.strip()]
    assert sorted(listed) == sorted(run.path.name for run in runs)
    for name in listed:
        assert resolve_run(name, long_names) == long_names / name


def test_compare_takes_a_unique_prefix_and_names_an_ambiguous_one(long_names: Path) -> None:
    assert resolve_run("iris", long_names) == long_names / "iris-baseline-20240503-080000"
    assert resolve_run("house-price-model-20240502", long_names).name == "house-price-model-20240502-091500"
    assert resolve_run(str(long_names / "iris-baseline-20240503-080000"), "elsewhere").name.startswith("iris")
    only = long_names / "iris-baseline-20240503-080000"
    assert resolve_run(only.name, only) == only  # `deepfit runs RUN_DIR` lists the run itself
    with pytest.raises(RunError, match=r"house-price-model matches 3 runs in .*: house-price-model-20240501-120301,"):
        resolve_run("house-price-model", long_names)


def test_compare_with_the_names_the_listing_shows(long_names: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(long_names)]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith(("house", "iris"))]
    assert main(["runs", str(long_names), "--compare", listed[0], listed[-1]]) == 0
    out = capsys.readouterr().out
    assert "data.source" in out and f"{listed[0]} " in out and f"{listed[-1]} " in out  # as the listing names them
