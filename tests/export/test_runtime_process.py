"""The exported folder predicts raw rows with numpy + onnxruntime only, as `deepfit predict` does."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfit.api import train
from deepfit.cli import main
from deepfit.export import export_run
from deepfit.export.heldout import records_of
from tests.export.tables import mixed_table

HEAVY = ("torch", "pandas", "sklearn", "scipy", "pyarrow", "deepfit.data", "deepfit.training", "deepfit.models")
PROBE = """
import json, sys
from deepfit import runtime
rt = runtime.load(sys.argv[1])
predictions = rt.predict(json.load(open(sys.argv[2])))
heavy = [m for m in sys.modules if m.startswith({heavy!r})]
print(json.dumps({{"predictions": predictions, "heavy": heavy, "schema": rt.schema, "metadata": rt.metadata}}))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A run trained on a table of numbers, categories, dates, text and missing cells, exported to ONNX."""
    tmp = tmp_path_factory.mktemp("runtime")
    table = mixed_table(200)
    config = {
        "data": {"source": "frame", "target": "label", "column_types": {"notes": "text"}},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 3},
        "eval": {"baselines": False},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train(config, data=table, run_dir=tmp / "run", verbose=False).run_dir
    rows = mixed_table(40, seed=5)
    rows.loc[0, "color"], rows.loc[1, "city"] = "purple", "atlantis"  # unseen levels
    rows.to_csv(tmp / "rows.csv", index=False)
    result = export_run(run, tmp / "export", data=str(tmp / "rows.csv"))
    return Path(run), result.path, tmp / "rows.csv"


def deepfit_predict(run: Path, rows: Path, out: Path) -> pd.DataFrame:
    assert main(["predict", str(run), str(rows), "-o", str(out)]) == 0
    return pd.read_csv(out)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert (got["prediction"].astype(str) == expected["prediction"].astype(str)).all()
    probas = [c for c in expected.columns if c.startswith("proba_")]
    np.testing.assert_allclose(got[probas].to_numpy(float), expected[probas].to_numpy(float), atol=1e-5)


def test_runtime_imports_only_numpy_and_onnxruntime(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    run, folder, rows = exported
    frame = pd.read_csv(rows)
    records = records_of(frame, [c for c in frame.columns if c != "label"])
    (tmp_path / "rows.json").write_text(json.dumps(records))
    probe = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe, str(folder), str(tmp_path / "rows.json")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    out = json.loads(done.stdout)
    assert out["heavy"] == []
    assert out["metadata"]["task"] == "classification" and out["metadata"]["classes"] == ["high", "low"]
    fields = {f["name"]: f["type"] for f in out["schema"]["fields"]}
    assert fields == {
        "x1": "number", "x2": "number", "count": "number", "color": "string", "city": "string",
        "member": "boolean", "signup_date": "date", "last_visit": "date", "notes": "text",
    }  # fmt: skip
    assert_same(pd.DataFrame(out["predictions"]), deepfit_predict(run, rows, tmp_path / "expected.csv"))


def test_predict_py_needs_no_deepfit(exported: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The folder's own predict.py (its copy of the runtime), run where deepfit cannot be imported."""
    run, folder, rows = exported
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "deepfit.py").write_text("raise ImportError('deepfit is not installed here')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker), "PYTHONWARNINGS": "ignore"}
    out = tmp_path / "predictions.csv"
    subprocess.run(
        [sys.executable, "predict.py", str(rows), "-o", str(out)], cwd=folder, env=env, check=True, capture_output=True
    )
    with open(out, newline="") as f:
        assert len(list(csv.DictReader(f))) == 40
    assert_same(pd.read_csv(out), deepfit_predict(run, rows, tmp_path / "expected.csv"))


def test_dockerfile_names_pinned_versions(exported: tuple[Path, Path, Path]) -> None:
    from importlib.metadata import version

    text = (exported[1] / "Dockerfile").read_text()
    assert f"onnxruntime=={version('onnxruntime')}" in text and f"numpy=={version('numpy')}" in text
    assert "torch==2.13.0+cpu" in text and "download.pytorch.org/whl/cpu" in text
    assert '"deepfit[serve]==' in text and 'CMD ["deepfit", "serve", "/model"' in text


def test_cli_refuses_an_existing_folder_then_overwrites(
    exported: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    run, folder, rows = exported
    before = (folder / "parity.json").stat().st_mtime_ns
    assert main(["export", str(run), "-o", str(folder), "--data", str(rows)]) == 2
    assert "already exists" in capsys.readouterr().err and (folder / "parity.json").stat().st_mtime_ns == before
    assert main(["export", str(run), "-o", str(folder), "--data", str(rows), "--overwrite"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(folder)  # the result on stdout; the parity figures on stderr
    assert "parity with PyTorch on 40 held-out rows" in captured.err
    assert json.loads((folder / "parity.json").read_text())["runtime"]["rows"] == 40


def test_runtime_refuses_what_is_not_a_record(exported: tuple[Path, Path, Path]) -> None:
    from deepfit import runtime

    rt = runtime.load(exported[1])
    with pytest.raises(runtime.InputError, match="a record is an object of fields"):
        rt.predict([[0.1, 0.2]])
    with pytest.raises(runtime.InputError, match="feature column 'x1' is missing"):
        rt.predict([{"x2": 1.0}])
    assert rt.predict([]) == []
