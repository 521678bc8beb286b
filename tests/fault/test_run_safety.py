"""Nothing in a run directory runs code; no run is overwritten, mixed up or resumed onto other data."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import deepfit
from deepfit.cli import main
from deepfit.errors import DataError, RunError
from deepfit.runs import claim_run_dir
from deepfit.training.trainer import TrainingInterrupted
from tests.training.test_resume import InterruptAt

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "data": {"source": "builtin:iris"},
    "model": {"name": "mlp", "hidden": [8]},
    "train": {"epochs": 3, "batch_size": 16},
    "output": {"report": False},
}
PAYLOAD = """
import os
class Payload:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plant(path: Path, marker: Path) -> None:
    """A pickle that runs ``touch marker`` when unpickled without weights_only."""
    namespace: dict = {}
    exec(PAYLOAD.format(marker=marker), namespace)  # the attacker's side of the test
    torch.save({"config": {}, "model": namespace["Payload"]()}, path)


def interrupted_run(tmp_path: Path, config: dict | None = None, name: str = "cut") -> Path:
    with pytest.raises(TrainingInterrupted):
        deepfit.train(config or FAST, run_dir=tmp_path / name, callbacks=[InterruptAt(9)])
    return tmp_path / name


# ---------------------------------------------------------------- planted code
def test_a_planted_checkpoint_never_runs_on_resume(tmp_path: Path, capsys) -> None:
    run, marker = interrupted_run(tmp_path), tmp_path / "PWNED"
    plant(run / "checkpoints" / "last.pt", marker)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "last.pt is not a checkpoint deepfit can load" in err
    assert "weights_only=False" not in err and "Traceback" not in err


def test_planted_weights_never_run_on_load_or_predict(tmp_path: Path, capsys) -> None:
    run, marker = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir, tmp_path / "PWNED"
    plant(run / "model" / "weights.pt", marker)
    with pytest.raises(RunError, match="model weights file deepfit can load"):
        deepfit.load(run)
    rows = tmp_path / "rows.csv"
    pd.DataFrame(np.ones((2, 4)), columns=["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "x"]).to_csv(
        rows, index=False
    )
    assert main(["predict", str(run), str(rows), "-o", str(tmp_path / "p.csv")]) == 2
    assert not marker.exists() and not (tmp_path / "p.csv").exists()
    assert "Traceback" not in capsys.readouterr().err


BUILDER = (
    "from torch import nn\n\ndef build(spec):\n    return nn.Sequential(nn.Linear(spec.n_features, spec.n_outputs))\n"
)


def custom_run(tmp_path: Path) -> tuple[Path, Path]:
    builder = tmp_path / "nets.py"
    builder.write_text(BUILDER)
    config = tmp_path / "custom.yaml"
    config.write_text(yaml.safe_dump({**FAST, "model": {"name": "custom", "builder": "nets.py:build"}}))
    return deepfit.train(config, run_dir=tmp_path / "run").run_dir, builder


def test_a_custom_builder_runs_only_with_trust_code_and_only_unchanged(tmp_path: Path, capsys) -> None:
    run, builder = custom_run(tmp_path)
    meta = json.loads((run / "model" / "meta.json").read_text())
    assert meta["builder"]["sha256"] == digest(builder)
    with pytest.raises(RunError, match=r"(?s)would run the Python code in .*nets\.py.*--trust-code"):
        deepfit.load(run)
    rows = tmp_path / "rows.csv"
    features = deepfit.load(run, trust_code=True).preprocessor.state["features"]  # the opt-in
    pd.DataFrame(np.ones((1, 4)), columns=features).to_csv(rows, index=False)
    capsys.readouterr()
    assert main(["predict", str(run), str(rows), "-o", str(tmp_path / "p.csv")]) == 2
    assert "--trust-code" in capsys.readouterr().err

    builder.write_text(BUILDER + "# changed\n")
    with pytest.raises(RunError, match=r"nets\.py has changed since the run was trained"):
        deepfit.load(run, trust_code=True)


def test_resuming_a_custom_run_needs_trust_code(tmp_path: Path) -> None:
    builder = tmp_path / "nets.py"
    builder.write_text(BUILDER)
    run = interrupted_run(tmp_path, {**FAST, "model": {"name": "custom", "builder": f"{builder}:build"}})
    with pytest.raises(RunError, match="--trust-code"):
        deepfit.train(resume=run)
    assert deepfit.train(resume=run, trust_code=True).metrics["test"]["accuracy"] > 0


# ---------------------------------------------------------------- never overwrite, never share
def test_an_existing_run_is_refused_and_replaced_only_with_overwrite(tmp_path: Path, capsys) -> None:
    run = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir
    before = digest(run / "model" / "weights.pt")
    with pytest.raises(RunError, match=r"already holds a run.*\n.*--resume .*--overwrite"):
        deepfit.train({**FAST, "train": {**FAST["train"], "seed": 5}}, run_dir=run)
    assert digest(run / "model" / "weights.pt") == before
    deepfit.train({**FAST, "train": {**FAST["train"], "seed": 5}}, run_dir=run, overwrite=True)
    assert digest(run / "model" / "weights.pt") != before
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["seed"] == 5


def test_a_second_process_on_a_locked_run_is_told_who_holds_it(tmp_path: Path) -> None:
    with claim_run_dir(tmp_path / "run"), pytest.raises(RunError, match=rf"in use by process {os.getpid()}"):
        deepfit.train(FAST, run_dir=tmp_path / "run")
    run = interrupted_run(tmp_path)
    with claim_run_dir(run, resume=True), pytest.raises(RunError, match=rf"in use by process {os.getpid()}"):
        deepfit.train(resume=run)


def test_two_trainings_started_at_once_into_one_directory(tmp_path: Path) -> None:
    """Exactly one wins; the other exits 2; the config saved matches the weights saved."""
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**FAST, "train": {**FAST["train"], "epochs": 20}}))
    run = tmp_path / "run"
    command = [sys.executable, "-m", "deepfit", "train", str(config), "--run-dir", str(run), "-q"]
    procs = [
        subprocess.Popen([*command, "--set", f"model.hidden=[{w}]"], stderr=subprocess.PIPE, text=True) for w in (8, 12)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "in use by process" in loser or "already holds" in loser
    width = yaml.safe_load((run / "config.yaml").read_text())["model"]["hidden"][0]
    assert torch.load(run / "model" / "weights.pt", weights_only=True)["body.0.weight"].shape[0] == width


def test_a_refused_new_run_leaves_no_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        deepfit.train({**FAST, "data": {"source": str(tmp_path / "missing.csv")}}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    output = {**FAST["output"], "dir": str(tmp_path / "new" / "runs")}  # output.dir made for this run
    with pytest.raises(DataError):
        deepfit.train({**FAST, "data": {"source": str(tmp_path / "missing.csv")}, "output": output})
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- resume: finished, changed data, refused
def test_resuming_a_finished_run_changes_nothing(tmp_path: Path, capsys) -> None:
    run = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir
    files = {p: digest(p) for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    assert main(["train", "--resume", str(run)]) == 0
    assert "is finished" in capsys.readouterr().err
    assert {p: digest(p) for p in run.rglob("*") if p.is_file() and p.name != ".lock"} == files


def test_every_resume_says_where_it_starts(tmp_path: Path, capsys) -> None:
    run = interrupted_run(tmp_path)
    capsys.readouterr()
    deepfit.train(resume=run, verbose=True)
    assert f"resuming {run} from epoch 1, step 9" in " ".join(capsys.readouterr().err.split())


def test_resume_refuses_changed_data_before_writing_anything(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame.a > 0).astype(int)
    source = tmp_path / "d.csv"
    frame.to_csv(source, index=False)
    run = interrupted_run(tmp_path, {**FAST, "data": {"source": str(source), "target": "y"}})
    kept = {name: digest(run / name) for name in ("config.yaml", "data_report.json", "checkpoints/last.pt")}
    frame.assign(a=frame.a * 2).to_csv(source, index=False)  # same size class, other values
    with pytest.raises(RunError, match=r"the data changed since the run started: data.source .*d\.csv changed"):
        deepfit.train(resume=run)
    assert {name: digest(run / name) for name in kept} == kept
    os.utime(source, (1, 1))  # a touched file with the same bytes is the same data
    assert deepfit.train(resume=run, allow_changed_data=True).metrics["test"]


def test_resume_with_an_override_of_an_auto_model_is_refused_not_ignored(tmp_path: Path) -> None:
    config = {**FAST, "model": {"name": "auto"}}
    run = interrupted_run(tmp_path, config)
    with pytest.raises(RunError, match=r"model.hidden"):
        deepfit.train(config, resume=run, overrides=["model.hidden=[32]"])


def test_temp_files_of_a_killed_write_are_removed_on_resume(tmp_path: Path) -> None:
    run = interrupted_run(tmp_path)
    stale = run / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    deepfit.train(resume=run)
    assert not stale.exists()


# ---------------------------------------------------------------- damaged run directories
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: (run / "model" / "weights.pt").unlink(), "model weights file not found"),
        (lambda run: cut(run / "model" / "weights.pt"), "weights.pt is not a model weights file deepfit can load"),
        (lambda run: cut(run / "model" / "meta.json"), r"meta.json is damaged \(not valid JSON"),
        (lambda run: bump_format(run / "model" / "meta.json"), "run format 99; this deepfit reads format 1"),
    ],
)
def test_a_damaged_run_is_one_clear_error(tmp_path: Path, capsys, damage, message) -> None:
    run = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir
    damage(run)
    assert main(["evaluate", str(run)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(RunError, match=message):
        deepfit.load(run)


def test_a_cut_eval_json_is_one_clear_error(tmp_path: Path, capsys) -> None:
    run = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir
    cut(run / "eval.json")
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "eval.json is damaged" in err and "Traceback" not in err


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def bump_format(path: Path) -> None:
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "format": 99}))


# ---------------------------------------------------------------- the Python API's inputs and output
def test_predict_takes_records_and_arrays(tmp_path: Path) -> None:
    model = deepfit.load(deepfit.train(FAST, run_dir=tmp_path / "run").run_dir)
    features = model.preprocessor.state["features"]
    array = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    expected = model.predict(pd.DataFrame(array, columns=features))
    records = [dict(zip(features, row, strict=True)) for row in array]
    pd.testing.assert_frame_equal(model.predict(records), expected)
    pd.testing.assert_frame_equal(model.predict(array), expected)
    with pytest.raises(DataError, match="one column per feature"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(DataError, match="cannot predict on a int"):
        model.predict(5)


def test_train_from_python_is_silent_unless_asked(tmp_path: Path, capsys) -> None:
    deepfit.train(FAST, run_dir=tmp_path / "a")
    assert capsys.readouterr().err == ""  # not a terminal: no progress
    deepfit.train(FAST, run_dir=tmp_path / "b", verbose=True)
    captured = capsys.readouterr()
    assert "epoch 3/3" in captured.err and "Results" in captured.out


def test_results_go_to_stdout_messages_to_stderr(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(FAST))
    done = subprocess.run(
        [sys.executable, "-m", "deepfit", "train", str(config), "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Results" in done.stdout and "accuracy" in done.stdout and "Run saved to" in done.stdout
    assert "Data" in done.stderr and "epoch 3/3" in done.stderr and "Results" not in done.stderr


def test_predict_keeps_one_row_per_input_row_and_chosen_columns(tmp_path: Path) -> None:
    run = deepfit.train(FAST, run_dir=tmp_path / "run").run_dir
    features = deepfit.load(run).preprocessor.state["features"]
    rows = pd.DataFrame(np.ones((3, 4)), columns=features).assign(id=["a", "b", "c"])
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    assert main(["predict", str(run), str(source), "-o", str(tmp_path / "p.csv"), "--keep-columns", "id"]) == 0
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out["id"]) == ["a", "b", "c"] and out.columns[:2].tolist() == ["id", "prediction"]
    assert main(["predict", str(run), str(source), "-o", str(tmp_path / "q.csv"), "--keep-columns", "idd"]) == 2
