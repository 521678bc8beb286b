"""An optimizer, schedule or loss named as code in a config (``train.optimizer: opt.py:make``): the user's own
config runs it; a run directory runs it again (--resume) only with trust_code, and only unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

import deepfit
from deepfit.errors import ConfigError, RunError

CODE = """import torch


def make(groups, lr, config):
    return torch.optim.SGD(groups, lr=lr, momentum=0.5)


def halve(step, total_steps, steps_per_epoch, config):
    return 0.5 ** (step // max(steps_per_epoch, 1))
"""


def write_run(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "opt.py").write_text(CODE)
    config = tmp_path / "code.yaml"
    config.write_text(
        "data: {source: 'builtin:iris'}\nmodel: {name: mlp, hidden: [8]}\n"
        "train: {epochs: 3, lr: 0.1, optimizer: opt.py:make, schedule: opt.py:halve}\n"
        "eval: {baselines: false}\noutput: {report: false}\n"
    )
    return config, tmp_path / "run"


def test_code_named_in_the_users_config_runs_and_is_saved_with_its_path(tmp_path: Path) -> None:
    config, run = write_run(tmp_path)
    result = deepfit.train(config, run_dir=run, quiet=True)
    assert [row["lr"] for row in result.history] == pytest.approx([0.05, 0.025, 0.0125])
    saved = (run / "config.yaml").read_text()
    assert f"name: {tmp_path / 'opt.py'}:make" in saved  # absolute: the saved run finds the file from anywhere


def test_resuming_such_a_run_needs_trust_code_and_an_unchanged_file(tmp_path: Path) -> None:
    config, run = write_run(tmp_path)
    deepfit.train(config, run_dir=run, quiet=True)
    (run / "eval.json").unlink()  # as if killed after its last checkpoint
    with pytest.raises(RunError, match=r"train\.optimizer\.name .*opt\.py:make: loading it would run the Python"):
        deepfit.train(resume=run, quiet=True)
    (tmp_path / "opt.py").write_text(CODE + "\n# changed\n")
    with pytest.raises(RunError, match=r"has changed since the run was trained"):
        deepfit.train(resume=run, quiet=True, trust_code=True)
    (tmp_path / "opt.py").write_text(CODE)
    assert deepfit.train(resume=run, quiet=True, trust_code=True).metrics["test"]["accuracy"] > 0


def test_a_code_name_that_does_not_import_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.optimizer\.name: cannot import '.*missing\.py'"):
        deepfit.train(
            {"data": {"source": "builtin:iris"}, "train": {"epochs": 1, "optimizer": "missing.py:make"}},
            run_dir=tmp_path / "run",
            quiet=True,
        )


def test_making_paths_absolute_leaves_unset_train_keys_unset() -> None:
    """Training defaults fill the keys a user left unset: resolving file paths must not mark any as set."""
    from deepfit.config import load_config

    assert load_config({"data": {"source": "x.csv"}}).with_absolute_paths().train.model_fields_set == set()
