"""report.html from real tiny runs: sections by task, optional files, self-containment, the CLI."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
from itertools import pairwise
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
    expected = ["learning", "baselines", "confusion", "per-class", "data", "gradients", "diagnostics", "config"]
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
    assert _section_ids(page) == ["learning", "baselines", "confusion", "per-class", "data", "config"]
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
    sections = ["learning", "baselines", "confusion", "per-class", "data", "gradients", "diagnostics", "config"]
    assert _section_ids(page) == sections
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
    sections = ["learning", "baselines", "predictions", "data", "gradients", "diagnostics", "config"]
    assert _section_ids(page) == sections
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
        "import sys, deepfit.cli, deepfit.evaluation.report, deepfit.run_summary; "
        "sys.exit('matplotlib' in sys.modules or 'torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------- plots: tick labels of large values stay apart
def _drawn_figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Figures the plot functions make, drawn as they are saved (inside their style)."""
    from deepfit.evaluation import plots

    figures: list = []
    save = plots._png

    def draw_then_save(fig) -> bytes:
        fig.canvas.draw()
        figures.append((fig, fig.canvas.get_renderer()))
        return save(fig)

    monkeypatch.setattr(plots, "_png", draw_then_save)
    return figures


def _tick_labels(fig, renderer) -> list[tuple[str, str, list]]:
    """(panel title, axis, [(text, bounding box)]) of the tick labels shown on each axis."""
    out = []
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            low, high = sorted(axis.get_view_interval())
            ticks = [t for t in axis.get_major_ticks() if low <= t.get_loc() <= high and t.label1.get_visible()]
            labels = [(t.label1.get_text(), t.label1.get_window_extent(renderer)) for t in ticks if t.label1.get_text()]
            out.append((ax.get_title(loc="left"), name, labels, axis.get_offset_text().get_text()))
    return out


def _assert_apart(figures: list) -> list[str]:
    """No two neighbouring tick labels touch (at least 4 pixels between them); returns every label seen."""
    seen = []
    for fig, renderer in figures:
        for title, name, labels, offset in _tick_labels(fig, renderer):
            if title != "Learning rate":  # small, in scientific notation on purpose
                assert offset == "", f"{title} {name}: values to multiply by {offset}"
            boxes = [box for _, box in labels]
            for (left, a), (right, b) in pairwise(labels):
                gap = b.x0 - a.x1 if name == "x" else b.y0 - a.y1
                assert gap >= 4, f"{title} {name}: '{left}' and '{right}' overlap ({gap:.1f} px apart)"
            assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
            seen += [text for text, _ in labels]
    return seen


@pytest.mark.parametrize("scale", [1.0, 1.5e5, 2.2e5, 9e5, 3e6, -1.3e6, 1e9])
def test_predicted_vs_actual_tick_labels_never_overlap(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    import numpy as np

    from deepfit.evaluation.plots import predicted_vs_actual

    figures = _drawn_figures(monkeypatch)
    rng = np.random.default_rng(0)
    actual = rng.uniform(0.25, 1.0, 300) * scale  # house prices: 50000 100000150000200000 ran together
    predicted_vs_actual(actual, actual + rng.normal(0, 0.1 * abs(scale), 300))
    labels = _assert_apart(figures)
    assert len(figures[0][0].axes) == 3
    if abs(scale) >= 1e5:  # compact: 200k, 1.5M, 1.0B; never 200000
        assert all(len(text.lstrip("−")) <= 5 for text in labels), labels
        assert any(text[-1] in "kMB" for text in labels)


def test_learning_curves_of_a_loss_in_the_targets_units_have_short_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfit.evaluation.plots import learning_curves

    figures = _drawn_figures(monkeypatch)
    history = [
        {"epoch": e, "train_loss": 4e10 / e, "val_loss": 5e10 / e, "val_rmse": 250_000 / e**0.5, "lr": 1e-3}
        for e in range(1, 31)
    ]
    learning_curves(history, "val_rmse", best_epoch=30)
    labels = _assert_apart(figures)
    assert any(text.endswith("B") for text in labels) and any(text.endswith("k") for text in labels), labels


def test_compact_tick_labels() -> None:
    from deepfit.evaluation.plots import compact_ticks

    assert compact_ticks([0, 50_000, 100_000, 150_000, 200_000]) == ["0", "50k", "100k", "150k", "200k"]
    assert compact_ticks([1_000_000, 1_500_000, 2_000_000]) == ["1.0M", "1.5M", "2.0M"]
    assert compact_ticks([-2e9, 0, 2e9]) == ["−2B", "0", "2B"]
    assert compact_ticks([0.1, 0.2, 9_999]) is None  # small numbers keep matplotlib's labels
    assert compact_ticks([100_000.0001, 100_000.0002]) is None  # too close to tell apart in k
