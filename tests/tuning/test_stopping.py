"""The stop request of a search: first signal asks, second stops at once, a parent forwards to its workers."""

from __future__ import annotations

import multiprocessing
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deepfit.tuning.stopping import SearchStopped, StopRequest, continue_command, signals_blocked

# A stand-in worker: prints each SIGINT it gets, and ends after two.
COUNTER = """
import signal, sys, time
got = []
def count(signum, frame):
    got.append(signum)
    print(len(got), flush=True)
signal.signal(signal.SIGINT, count)
print("ready", flush=True)
while len(got) < 2:
    time.sleep(0.01)
"""


def next_line(worker: subprocess.Popen) -> str:
    ready, _, _ = select.select([worker.stdout], [], [], 10)
    assert ready, "the worker printed nothing within 10 s"
    return worker.stdout.readline()


def test_the_first_signal_asks_to_stop_and_the_second_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested and stop.name == "SIGTERM"
        with pytest.raises(SearchStopped):
            stop.on_fit_begin(None)  # a trial whose data was still loading stops as training begins
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_parent_forwards_each_signal_to_its_workers():
    worker = subprocess.Popen([sys.executable, "-c", COUNTER], stdout=subprocess.PIPE, text=True)
    assert next_line(worker) == "ready\n"
    with StopRequest(multiprocessing.get_context("spawn").RawValue("i", 0)) as stop:
        stop.workers = [worker.pid]
        signal.raise_signal(signal.SIGINT)
        assert stop.shared.value == signal.SIGINT  # what a worker whose handler is not in yet reads
        assert next_line(worker) == "1\n"  # handled before the next: two pending signals would be one
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert worker.wait(timeout=10) == 0 and worker.stdout.read() == "2\n"


def test_a_signal_while_workers_start_is_handled_once_they_have_started():
    with StopRequest() as stop:
        with signals_blocked():
            signal.raise_signal(signal.SIGINT)
            assert not stop.requested
        assert stop.requested


def test_the_command_to_continue_is_the_same_command_with_the_folder():
    command = continue_command(
        "my tune.yaml", Path("runs/t"), trials=40, timeout="2h", workers=2, storage=None, overrides=["train.lr=0.1"]
    )
    assert command == "deepfit tune 'my tune.yaml' --dir runs/t --trials 40 --timeout 2h --workers 2 --set train.lr=0.1"
    assert "deepfit.tune(" in continue_command(
        {}, Path("t"), trials=None, timeout=None, workers=1, storage=None, overrides=None
    )
