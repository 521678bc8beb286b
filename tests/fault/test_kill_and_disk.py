"""Hard kills during checkpoint writes and full disks: the last checkpoint is always loadable, one clear error."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from deepfit.cli import main
from deepfit.errors import DeepfitError
from deepfit.training.callbacks import MetricsLog, TrainState
from deepfit.training.checkpoint import load_checkpoint

# a model big enough that a checkpoint write takes a while (~3 MB with the optimizer state)
HEAVY = {
    "data": {"source": "builtin:iris"},
    "model": {"name": "mlp", "hidden": [512, 512]},
    "train": {"epochs": 400, "batch_size": 8, "diagnostics": {"enabled": False}},
    "output": {"report": False, "checkpoint_seconds": 0},
}


def test_sigkill_during_checkpoint_writes_never_leaves_a_broken_checkpoint(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(HEAVY))
    run = tmp_path / "run"
    checkpoint = run / "checkpoints" / "last.pt"
    rng = random.Random(0)
    epochs_seen = []
    for attempt in range(4):
        command = (
            ["train", "--resume", str(run)] if checkpoint.exists() else ["train", str(config), "--run-dir", str(run)]
        )
        proc = subprocess.Popen([sys.executable, "-m", "deepfit", *command, "-q"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not checkpoint.exists() and time.monotonic() < deadline:  # wait for the first checkpoint
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 1.5))  # then kill at a random moment: often mid-write
        proc.kill()
        proc.wait()
        state = load_checkpoint(checkpoint)  # complete and loadable, whatever the moment of the kill
        epochs_seen.append(state["epoch"])
        assert state["model"] and state["optimizer"], attempt
    assert epochs_seen == sorted(epochs_seen) and epochs_seen[-1] > 0
    # the resumed run removes what killed writes left behind
    leftovers = list(run.rglob(".*.tmp"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfit",
            "train",
            "--resume",
            str(run),
            "--set",
            "train.epochs=" + str(epochs_seen[-1] + 2),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not list(run.rglob(".*.tmp")), leftovers


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 1 MB tmpfs (needs root and the right to mount; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_while_checkpointing_is_one_clear_error(small_disk: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**HEAVY, "train": {**HEAVY["train"], "epochs": 3}}))
    assert main(["train", str(config), "--run-dir", str(small_disk / "run")]) == 2
    err = capsys.readouterr().err
    assert "last.pt: the disk is full" in err and "Traceback" not in err
    assert not list(small_disk.rglob(".*.tmp"))  # no half-written file left behind


def test_a_full_disk_while_appending_metrics_is_one_clear_error() -> None:
    log = MetricsLog("run")
    log.file = open("/dev/full", "a")  # every write: ENOSPC  # noqa: SIM115
    state = TrainState(model=None, optimizer=None, schedule=None, epochs=1, logs={"epoch": 1})
    with pytest.raises(DeepfitError, match=r"metrics\.jsonl: the disk is full"):
        log.on_epoch_end(state)
    log.close()  # the buffered line cannot be written either; the error above was the one to report
