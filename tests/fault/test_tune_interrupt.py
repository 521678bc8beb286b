"""Ctrl-C and SIGTERM stop ``deepfit tune`` within seconds, with one worker or several; a rerun retries.

Real signals to a real ``deepfit tune`` process (its own session, as a terminal's foreground job): the
running trials are marked interrupted and queued again, the finished ones are summarised, the command
exits 130 with how to continue, and rerunning it runs the interrupted trials' parameters first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from deepfit.runs import read_json
from deepfit.tuning.search import tune
from deepfit.tuning.study import open_storage

# Epochs: well under a second, then a second or more, so the signal lands mid-trial. One torch thread per
# process: on a busy 2-core machine two threads per tiny model run 5-10 times slower than one.
FAST, SLOW, SLOWER = 2, 100, 200
HOLD = 1000  # outlasts any start-up skew between two workers; never run to its end
STOP_WITHIN = 20.0  # seconds from the signal to the exit
CONFIG = """\
data: {source: 'builtin:iris', target: target}
model: {hidden: [8]}
train: {epochs: 2, batch_size: 8, early_stopping: {enabled: false}}
output: {report: false}
tune:
  space: {train.epochs: {choice: [2, 100, 200, 1000]}}
  sampler: random
  pruner: none
  seed: 0
"""


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the reruns run here
    yield
    torch.set_num_threads(threads)


def prepare(tmp_path: Path, epochs: list[int]) -> tuple[Path, Path]:
    """A config and a study whose trials run in this order (enqueued), so the test knows which one is slow."""
    config, folder = tmp_path / "slow.yaml", tmp_path / "tune"
    config.write_text(CONFIG)
    study = optuna.create_study(storage=storage(folder), study_name=folder.name, direction="maximize")
    for n in epochs:
        study.enqueue_trial({"train.epochs": n})
    return config, folder


def storage(folder: Path) -> optuna.storages.BaseStorage:
    return open_storage(str(folder / "study.journal"))


def trials(folder: Path) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=folder.name, storage=storage(folder))
    return sorted(study.trials, key=lambda t: t.number)


def command(config: Path, folder: Path, trials: int, workers: int) -> list[str]:
    cli = ["tune", str(config), "--dir", str(folder), "--trials", str(trials), "--workers", str(workers)]
    return [sys.executable, "-c", "import sys; from deepfit.cli import main; sys.exit(main())", *cli]


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    # A session of its own: os.killpg reaches it and its children as a terminal's Ctrl-C would.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def wait_until_running(process: subprocess.Popen, metrics: Path, limit: float = 180.0) -> None:
    """Until ``metrics`` (a trial's metrics.jsonl) has its first epoch: that trial is training."""
    deadline = time.monotonic() + limit
    while not (metrics.is_file() and metrics.stat().st_size > 0):
        if process.poll() is not None:
            raise AssertionError(f"deepfit tune ended before {metrics} appeared:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"{metrics} did not appear within {limit} s:\n{process.communicate()[0]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen, send: Callable[[], None]) -> tuple[int, str, float]:
    """Send the signal; returns the exit code, the output and the seconds it took to exit."""
    sent = time.monotonic()
    send()
    try:
        output, _ = process.communicate(timeout=STOP_WITHIN * 3)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"deepfit tune did not stop within {STOP_WITHIN * 3} s:\n{output}") from None
    return process.returncode, output, time.monotonic() - sent


def assert_interrupted(trial: optuna.trial.FrozenTrial, signal_name: str) -> None:
    assert trial.state == TrialState.FAIL, trial
    assert trial.user_attrs["interrupted"] is True
    assert trial.user_attrs["fail_reason"] == f"interrupted ({signal_name})"
    assert trial.params["train.epochs"] in (SLOW, SLOWER, HOLD)
    # the trainer saved where it was, as a `deepfit train` run does on Ctrl-C
    assert (Path(trial.user_attrs["run_dir"]) / "checkpoints" / "last.pt").is_file()


def test_ctrl_c_stops_a_one_worker_search_and_a_rerun_retries_the_interrupted_trial(tmp_path):
    config, folder = prepare(tmp_path, [FAST, SLOW, FAST])
    args = command(config, folder, trials=3, workers=1)
    process = start(args, tmp_path)
    wait_until_running(process, folder / "trials" / "trial-0001" / "metrics.jsonl")

    code, output, seconds = stop(process, lambda: os.killpg(process.pid, signal.SIGINT))

    assert code == 130, output
    assert seconds < STOP_WITHIN, output
    assert "Traceback" not in output
    message = output[output.index("error: ") :]  # the last thing printed, once
    assert message.startswith("error: tuning stopped by SIGINT: 1 of 3 trials finished, 1 interrupted")
    assert f"continue with: deepfit tune {config} --dir {folder} --trials 3\n" in message
    done, interrupted, waiting = trials(folder)
    assert done.state == TrialState.COMPLETE and waiting.state == TrialState.WAITING
    assert_interrupted(interrupted, "SIGINT")
    # what finished is summarised as on a normal end
    summary = read_json(folder / "summary.json")
    assert [t["state"] for t in summary["trials"]] == ["complete", "interrupted", "waiting"]
    assert summary["best"]["number"] == 0 and (folder / "best.yaml").is_file()

    # The rerun (in this process, to save a start-up: the same code as the command) retries trial 1 first.
    result = tune(str(config), trials=3, tune_dir=folder, plots=False)

    assert result.counts == {"complete": 3, "interrupted": 1}
    after = trials(folder)
    retry = next(t for t in after if t.user_attrs.get("retry_of") == 1)
    assert retry.state == TrialState.COMPLETE and retry.params == interrupted.params
    assert [t.state for t in after if t.number != 1] == [TrialState.COMPLETE] * 3


def test_ctrl_c_stops_two_workers_and_a_rerun_retries_both_interrupted_trials(tmp_path):
    # Worker A runs trial 0 (fast) then trial 2; worker B runs trial 1, long enough to be training still.
    config, folder = prepare(tmp_path, [FAST, SLOWER, SLOW, FAST])
    process = start(command(config, folder, trials=4, workers=2), tmp_path)
    wait_until_running(process, folder / "trials" / "trial-0001" / "metrics.jsonl")
    wait_until_running(process, folder / "trials" / "trial-0002" / "metrics.jsonl")

    code, output, seconds = stop(process, lambda: os.killpg(process.pid, signal.SIGINT))

    assert code == 130, output
    assert seconds < STOP_WITHIN, output
    assert "Traceback" not in output
    assert "tuning stopped by SIGINT: 1 of 4 trials finished, 2 interrupted" in output
    first = trials(folder)
    assert [t.state for t in first] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.WAITING]
    for trial in first[1:3]:
        assert_interrupted(trial, "SIGINT")
    assert (folder / "best.yaml").is_file()

    result = tune(str(config), trials=4, tune_dir=folder, plots=False)  # one worker here: the same requeue

    assert result.counts == {"complete": 4, "interrupted": 2}
    after = trials(folder)
    retries = {t.user_attrs["retry_of"]: t for t in after[4:]}
    assert sorted(retries) == [1, 2] and len(after) == 6
    for number, retry in retries.items():
        assert retry.state == TrialState.COMPLETE and retry.params == first[number].params


def test_sigterm_to_the_parent_alone_stops_every_worker(tmp_path):
    # A service manager's stop: SIGTERM to the main process only; it must reach the workers' trials too.
    config, folder = prepare(tmp_path, [HOLD, HOLD])  # both run at once: one per worker
    process = start(command(config, folder, trials=2, workers=2), tmp_path)
    wait_until_running(process, folder / "trials" / "trial-0001" / "metrics.jsonl")
    wait_until_running(process, folder / "trials" / "trial-0000" / "metrics.jsonl")

    code, output, seconds = stop(process, lambda: os.kill(process.pid, signal.SIGTERM))

    assert code == 130, output
    assert seconds < STOP_WITHIN, output
    assert "tuning stopped by SIGTERM: 0 of 2 trials finished, 2 interrupted" in output, output
    for trial in trials(folder):
        assert_interrupted(trial, "SIGTERM")
    assert not (folder / "best.yaml").exists()  # nothing finished: nothing to summarise


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    config, folder = prepare(tmp_path, [FAST, HOLD])
    process = start(command(config, folder, trials=2, workers=1), tmp_path)
    wait_until_running(process, folder / "trials" / "trial-0001" / "metrics.jsonl")

    def twice() -> None:
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.05)  # the first is being acted on (checkpoint, summary) when the second comes
        os.killpg(process.pid, signal.SIGINT)

    code, output, seconds = stop(process, twice)

    assert code == 130, output
    assert seconds < STOP_WITHIN, output
    assert "Traceback" not in output
    assert "error: tuning stopped at once: 1 of 2 trials finished, 1 interrupted" in output, output
    done, interrupted = trials(folder)
    assert done.state == TrialState.COMPLETE
    assert interrupted.state == TrialState.FAIL and interrupted.user_attrs["interrupted"] is True
