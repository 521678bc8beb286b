"""The trust-and-safety findings, each as its tester met it: what deepfit said was not what was true.

1. a GAN called indistinguishable at a two-sample accuracy of 0.60, five standard errors above 0.5;
2. "no problems found" for a 4.6x train/validation gap, and "set train.early_stopping.enabled: true" when it
   was on;
3. "chosen automatically: MLP [512, 512]" for a model built with the config's model.hidden [128, 128];
4. regression plot labels "50000 100000150000200000" run together;
5. `deepfit runs` folding run names in 80 columns, showing absolute paths, and listing names `--compare`
   refused.
"""

from __future__ import annotations

import io
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deepfit.api import train
from deepfit.cli import main

HOUSE_SOURCE = "house.csv"


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[Path]]:
    """Two runs of one config (output.name set, model.hidden set, model.name auto) on prices in the hundreds
    of thousands, read from a CSV by its absolute path: the runs folder, the config, the runs."""
    root = tmp_path_factory.mktemp("fault")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    price = 150_000 + 50_000 * x[:, 0] + 20_000 * x[:, 1] + rng.normal(0, 5_000, 300)
    source = root / HOUSE_SOURCE
    pd.DataFrame(x, columns=["rooms", "area", "age", "noise"]).assign(price=price).to_csv(source, index=False)
    config = {
        "data": {"source": str(source.resolve()), "target": "price"},
        "model": {"hidden": [16, 16]},  # model.name auto (the default) keeps these sizes
        "train": {"epochs": 4},
        "output": {"dir": str(root / "runs"), "name": "house-price-model", "report": False},
    }
    runs = [train(config, train__lr=lr, quiet=True).run_dir for lr in (1e-3, 3e-3)]
    return root / "runs", config, runs


def test_1_a_two_sample_accuracy_five_standard_errors_above_half_is_told_apart() -> None:
    from deepfit.evaluation.gan_eval import findings

    n = 626  # held-out samples: the standard error 0.5 / sqrt(n) is 0.02, so 0.60 is 5 of them above 0.5
    test = {"accuracy": 0.6, "n": n, "standard_error": 0.5 / n**0.5}
    report = {"two_sample": test, "diversity_ratio": 1.0, "coverage": 1.0}
    [line] = findings(report)
    assert "hardly" not in line and "cannot" not in line
    assert "scores 0.600 on 626 held-out samples" in line and "5.0 standard errors above 0.5" in line
    assert "one-sided p < 0.001): it can tell them apart" in line


def test_2_a_large_gap_is_overfitting_and_no_advice_repeats_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 8))
    label = np.where(x[:, 0] + rng.normal(scale=1.5, size=240) > 0, "yes", "no")  # mostly noise: memorised
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)]).assign(label=label)
    config = {
        "data": {"target": "label"},
        "model": {"hidden": [256, 256], "dropout": 0.0},
        "train": {"epochs": 12, "lr": 3e-3, "weight_decay": 0.0, "early_stopping": {"enabled": True, "patience": 50}},
        "output": {"report": False},
    }
    run = train(config, data=frame, run_dir=tmp_path / "run").run_dir
    assert "no problems found" not in capsys.readouterr().err
    [found] = [f for f in json.loads((run / "diagnostics.json").read_text())["findings"] if f["kind"] == "overfitting"]
    val, train_loss = re.search(r"is ([\d.]+) against a training loss of ([\d.]+)", found["message"]).groups()
    assert float(val) >= 2 * float(train_loss)
    assert "early_stopping" not in found["fix"]  # it is on
    assert found["advice"] == {"model.dropout": 0.2, "train.weight_decay": 0.0001}


def test_3_the_automatic_choice_describes_the_model_built(
    house: tuple[Path, dict[str, Any], list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, config, runs = house
    n_params = 4 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    meta = json.loads((runs[0] / "model" / "meta.json").read_text())
    assert meta["model"]["name"] == "mlp" and meta["model"]["hidden"] == [16, 16]
    assert "→ MLP [16, 16] (" in meta["choice"] and "512" not in meta["choice"]
    assert f"({n_params:,} parameters)" in meta["choice"]
    train(config, train__epochs=1, run_dir=tmp_path / "run", quiet=False)
    printed = capsys.readouterr().err
    assert f"Model mlp ({n_params:,} parameters)" in printed
    assert f"chosen automatically: {meta['choice']}" in printed


def test_4_plot_labels_of_house_prices_stay_apart(
    house: tuple[Path, dict[str, Any], list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepfit.evaluation import plots

    _, _, runs = house
    table = pd.read_csv(runs[0] / "predictions_test.csv")
    drawn = []
    save = plots._png

    def draw_then_save(fig: Any) -> bytes:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            low, high = sorted(ax.xaxis.get_view_interval())
            ticks = [t.label1 for t in ax.xaxis.get_major_ticks() if low <= t.get_loc() <= high and t.label1.get_text()]
            drawn.append([(t.get_text(), t.get_window_extent(renderer)) for t in ticks])
        return save(fig)

    monkeypatch.setattr(plots, "_png", draw_then_save)
    plots.predicted_vs_actual(table["y_true"].to_numpy(), table["y_pred"].to_numpy())
    assert table["y_true"].max() > 100_000
    for labels in drawn:
        for (left, a), (right, b) in pairwise(labels):
            assert b.x0 - a.x1 >= 4, f"{left!r} and {right!r} run together"
    assert any(text.endswith("k") for labels in drawn for text, _ in labels)


def test_5_the_runs_listing_fits_80_columns_and_compare_takes_its_names(
    house: tuple[Path, dict[str, Any], list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    from rich.console import Console

    from deepfit.run_summary import find_runs, resolve_run, runs_tables

    folder, _, runs = house
    console = Console(width=80, record=True, file=io.StringIO())
    for table in runs_tables(find_runs(folder), where=str(folder)):
        console.print(table)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
    rows = [line for line in lines[rule + 1 :] if line.strip()]
    listed = [line.split()[0] for line in rows]
    assert listed == [run.name for run in runs]  # whole directory names, one line each
    assert all(HOUSE_SOURCE in line for line in rows) and not any(str(folder.parent) in line for line in rows)
    assert [resolve_run(name, folder) for name in listed] == runs
    assert main(["runs", str(folder), "--compare", *listed]) == 0
    assert "train.lr" in capsys.readouterr().out
