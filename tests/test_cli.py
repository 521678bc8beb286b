"""The CLI's bad-input contract: one message (what, where, what to do), exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from deepfit.cli import main
from tests.conftest import write_config


def fail(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ")
    return err


def test_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: builtin:iris\n  targt: target\n")
    err = fail(capsys, "train", str(path))
    assert f"{path}:3: data.targt: unknown key 'targt' (did you mean 'target'?)" in err


def test_negative_learning_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fail(capsys, "train", "examples/iris.yaml", "--set", "train.lr=-0.1")
    assert "--set train.lr: train.lr: Input should be greater than 0 (got -0.1)" in err


def test_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: gone.csv\n  target: y\n")
    err = fail(capsys, "train", str(path))
    assert f"Data file not found: {tmp_path / 'gone.csv'}" in err and "relative to the config file" in err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_missing_target_column(tmp_path: Path, capsys: pytest.CaptureFixture[str], messy_csv: Path) -> None:
    path = write_config(tmp_path / "c.yaml", f"data:\n  source: {messy_csv.name}\n  target: labels\n")
    err = fail(capsys, "train", str(path))
    assert "target column 'labels' is not in the data (did you mean 'label'?)" in err


def test_one_class_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"a": range(40), "b": [1.5, 2.5] * 20, "y": ["same"] * 40}).to_csv(tmp_path / "d.csv", index=False)
    path = write_config(tmp_path / "c.yaml", "data:\n  source: d.csv\n  target: y\n")
    assert "has a single class ('same')" in fail(capsys, "train", str(path))


def test_split_fractions(capsys: pytest.CaptureFixture[str]) -> None:
    err = fail(capsys, "config", "show", "--set", "data.split.test=0.3")
    assert "split fractions must sum to 1" in err


def test_nan_loss_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fail(
        capsys, "train", "examples/diabetes.yaml", "--run-dir", str(tmp_path / "r"),
        "--set", "train.lr=1e12", "--set", "train.optimizer=sgd", "--set", "train.epochs=5", "--quiet",
    )  # fmt: skip
    assert "became nan" in err or "became inf" in err
    assert "try --set train.lr=" in err


def test_predict_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["train", "examples/iris.yaml", "--run-dir", str(tmp_path / "r"), "--quiet", "--set", "train.epochs=2"])
        == 0
    )
    pd.DataFrame({"sepal length (cm)": [5.0]}).to_csv(tmp_path / "new.csv", index=False)
    err = fail(capsys, "predict", str(tmp_path / "r"), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv"))
    assert "feature column 'sepal width (cm)' is missing from" in err and "new.csv" in err
    assert not (tmp_path / "p.csv").exists()


def test_train_predict_evaluate_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "nested" / "run"
    assert main(["train", "examples/wine.yaml", "--run-dir", str(run), "--quiet", "--set", "train.epochs=20"]) == 0
    assert capsys.readouterr().out.strip() == str(run)
    from deepfit.data.builtin import load_builtin

    frame = load_builtin("wine")
    frame.to_csv(tmp_path / "wine.csv", index=False)
    frame.drop(columns=["target"]).to_csv(tmp_path / "raw.csv", index=False)
    assert main(["predict", str(run), str(tmp_path / "raw.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert set(predictions["prediction"]) <= {"class_0", "class_1", "class_2"}
    assert [c for c in predictions.columns if c.startswith("proba_")] == [
        "proba_class_0",
        "proba_class_1",
        "proba_class_2",
    ]
    assert main(["evaluate", str(run), "--data", str(tmp_path / "wine.csv"), "--json"]) == 0
    assert '"accuracy"' in capsys.readouterr().out


def test_config_show_prints_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "examples/digits.yaml", "--set", "train.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.5" in out and "weight_decay:" in out and "source: builtin:digits" in out


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", "data:\n  source: gone.csv\n")
    run = subprocess.run(
        [sys.executable, "-m", "deepfit.cli", "--debug", "train", str(path)], capture_output=True, text=True
    )
    assert run.returncode != 0 and "Traceback" in run.stderr


def test_help_does_not_import_torch() -> None:
    code = "import sys; from deepfit.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_inspect_takes_the_path_training_would_for_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.data.shapes import write_shapes

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_shapes(tmp_path / "shapes", per_class=6, size=12)
    assert main(["inspect", str(tmp_path / "shapes")]) == 0
    out = capsys.readouterr().out
    assert "images decoded to 12x12" in out and "classes: circle (6), square (6), triangle (6)" in out
    assert "splits: train" in out and "identifier-like" not in out
