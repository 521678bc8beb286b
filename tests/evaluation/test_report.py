"""report.html from real tiny runs: sections by task, optional files, self-containment, the CLI."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepfit.api import train
from deepfit.cli import main
from deepfit.errors import RunError
from deepfit.evaluation.predictions import PREDICTIONS_TEST
from deepfit.evaluation.report import DIAGNOSTICS, GRAD_NORMS, REPORT, build_report

TINY = {"model": {"hidden": [8]}, "train": {"epochs": 3}}


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train({"data": {"source": "builtin:iris"}, **TINY}, run_dir=tmp_path_factory.mktemp("r") / "iris").run_dir


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = {"data": {"source": "builtin:diabetes"}, **TINY}
    return train(config, run_dir=tmp_path_factory.mktemp("r") / "diabetes").run_dir


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def _section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"src='data:image/png;base64,([^']+)'", page)]


def test_train_writes_report_and_test_predictions(iris_run: Path) -> None:
    assert (iris_run / REPORT).is_file()
    with (iris_run / PREDICTIONS_TEST).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["y_true", "y_pred", "proba_setosa", "proba_versicolor", "proba_virginica"]
    evaluation = json.loads((iris_run / "eval.json").read_text())
    assert len(rows) == evaluation["test"]["n_samples"]
    accuracy = sum(r["y_true"] == r["y_pred"] for r in rows) / len(rows)
    assert accuracy == pytest.approx(evaluation["test"]["accuracy"])


def test_classification_report_has_its_sections(iris_run: Path) -> None:
    page = (iris_run / REPORT).read_text()
    expected = ["learning", "confusion", "per-class", "data", "gradients", "diagnostics", "config"]
    assert _section_ids(page) == expected
    assert "<details>" in page and "builtin:iris" in page and "versicolor" in page
    assert "Accuracy" in page and "F1 macro" in page  # headline cards
    images = _images(page)
    assert len(images) == 3 and all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images)


def test_report_is_self_contained(iris_run: Path) -> None:
    page = (iris_run / REPORT).read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    assert set(re.findall(r"<img [^>]*src='([^']{0,22})", page)) == {"data:image/png;base64,"}


def test_report_without_the_optional_files(iris_run: Path, tmp_path: Path) -> None:
    run = _copy(iris_run, tmp_path)
    for name in (DIAGNOSTICS, GRAD_NORMS, PREDICTIONS_TEST):
        (run / name).unlink()
    page = build_report(run).read_text()
    assert _section_ids(page) == ["learning", "confusion", "per-class", "data", "config"]
    assert len(_images(page)) == 2


def test_fake_diagnostics_and_gradients_are_shown_and_escaped(iris_run: Path, tmp_path: Path) -> None:
    run = _copy(iris_run, tmp_path)
    # "norms" is the brief's name for the per-layer gradient norms; deepfit writes "grad_norm". Both work.
    rows = [
        {"step": s, "epoch": 1 + s // 10, "norms": {"layers.0.weight": 0.5 / (s + 1), "head.weight": 1.0}}
        for s in range(30)
    ]
    (run / GRAD_NORMS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    findings = [
        {
            "kind": "vanishing_gradients",
            "epoch": 2,
            "layers": ["layers.0.weight"],
            "message": "tiny <b>norms</b>",
            "fix": "use batch_norm",
            "severity": "warning",
        },
        {
            "kind": "nan_loss",
            "epoch": None,
            "layers": None,
            "message": "loss was NaN",
            "fix": None,
            "severity": "error",
        },
    ]
    (run / DIAGNOSTICS).write_text(json.dumps({"findings": findings, "summary": "2 findings"}))
    page = build_report(run).read_text()
    assert _section_ids(page) == ["learning", "confusion", "per-class", "data", "gradients", "diagnostics", "config"]
    assert "tiny &lt;b&gt;norms&lt;/b&gt;" in page and "<b>norms</b>" not in page
    assert page.index("Nan loss") < page.index("Vanishing gradients")  # errors first
    assert "use batch_norm" in page and "head.weight" in page and len(_images(page)) == 3


def test_diagnostics_as_a_bare_list_and_empty(iris_run: Path, tmp_path: Path) -> None:
    run = _copy(iris_run, tmp_path)
    (run / DIAGNOSTICS).write_text("[]")
    assert "No problems found" in build_report(run).read_text()
    (run / DIAGNOSTICS).write_text('[{"kind": "dead_relu", "message": "half the units never fire"}]')
    assert "half the units never fire" in build_report(run).read_text()
    (run / GRAD_NORMS).write_text('{"step": 0, "norms"')  # half written: the section is skipped
    assert "gradients" not in _section_ids(build_report(run).read_text())


def test_regression_report_plots_predictions(diabetes_run: Path) -> None:
    page = (diabetes_run / REPORT).read_text()
    assert _section_ids(page) == ["learning", "predictions", "data", "gradients", "diagnostics", "config"]
    assert "RMSE" in page and "R²" in page and "Predicted vs actual" in page
    assert len(_images(page)) == 3


def test_regression_report_without_saved_predictions(diabetes_run: Path, tmp_path: Path) -> None:
    run = _copy(diabetes_run, tmp_path)
    (run / PREDICTIONS_TEST).unlink()
    page = build_report(run).read_text()
    assert "predictions" in _section_ids(page) and "predates saved test predictions" in page
    assert len(_images(page)) == 2


def test_report_of_a_run_missing_most_files(iris_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "partial"
    run.mkdir()
    shutil.copy(iris_run / "config.yaml", run)
    assert _section_ids(build_report(run).read_text()) == ["config"]


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a deepfit run directory"):
        build_report(tmp_path)


def test_cli_report_rebuilds_and_prints_the_path(
    iris_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(iris_run, tmp_path)
    (run / REPORT).unlink()
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / REPORT)
    assert (run / REPORT).is_file()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a deepfit run directory" in capsys.readouterr().err


def test_cli_and_report_modules_do_not_import_matplotlib() -> None:
    code = (
        "import sys, deepfit.cli, deepfit.evaluation.report, deepfit.runs_table; "
        "sys.exit('matplotlib' in sys.modules or 'torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
