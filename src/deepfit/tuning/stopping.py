"""Ctrl-C and SIGTERM during a search: stop every worker within seconds, keep what finished, retry the rest.

One ``StopRequest`` per process. The first signal sets ``signal`` (its name); a trial that is training
meanwhile has the trainer's own handler, which saves a checkpoint and raises ``TrainingInterrupted`` at the
next optimizer step; the search marks that trial interrupted (FAIL with the user attribute ``interrupted``,
queued again by the next start, see :func:`deepfit.tuning.study.fail_stale_trials`) and starts no other. A
second signal raises ``KeyboardInterrupt`` at once.

Workers are spawned processes in process groups of their own, so a terminal's Ctrl-C (sent to its foreground
group) reaches the parent alone, which forwards it to each worker once; the trainer's handler takes a second
signal for a second Ctrl-C. Signals are blocked while the workers start, so one that arrives then cannot
interrupt a worker's start-up; ``shared`` (the signal's number, in shared memory) tells a worker of a stop
that came before its handler was in.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepfit.errors import DeepfitError
from deepfit.tuning.study import interrupted_trials, spent

if TYPE_CHECKING:
    import optuna

SIGNALS = (signal.SIGINT, signal.SIGTERM)
POSIX = os.name == "posix"


class TuneInterrupted(DeepfitError):
    """Ctrl-C / SIGTERM stopped the search; what finished is kept, a rerun retries the interrupted trials."""

    exit_code = 130


class SearchStopped(Exception):
    """Raised by a trial to end ``study.optimize`` (not in its ``catch``): a stop was requested."""


class StopRequest:
    """The first SIGINT/SIGTERM asks the search to stop; a second one raises ``KeyboardInterrupt`` at once.

    ``workers`` are pids the signal is forwarded to (a parent's); ``shared`` (a ``multiprocessing.RawValue``
    shared with them) holds the first signal's number: lock-free, so a handler may set it. Handlers are
    installed only in the main thread (Python's rule). It is also a training callback: a signal that came
    before the trainer installed its own handlers stops the trial as fit begins.
    """

    def __init__(self, shared: Any = None) -> None:
        self.signal: str | None = None
        self.shared = shared
        self.workers: list[int] = []
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None or bool(self.shared is not None and self.shared.value)

    @property
    def name(self) -> str:
        """The signal that asked for the stop (SIGINT when none did: a stop in code, or a parent gone)."""
        if self.signal is None and self.shared is not None and self.shared.value:
            return signal.Signals(self.shared.value).name
        return self.signal or "SIGINT"

    def install(self, *, discard_pending: bool = False) -> None:
        """Install the handlers; ``discard_pending`` drops a signal that arrived while they were blocked."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            previous = signal.signal(sig, signal.SIG_IGN) if discard_pending else signal.getsignal(sig)
            signal.signal(sig, self._request)  # POSIX: setting SIG_IGN above discarded a pending one
            self._previous.setdefault(sig, previous)

    def release(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def interrupted(self, name: str) -> None:
        """The trainer took the first signal (``name``): the next one stops at once."""
        self.signal = self.signal or name

    def on_fit_begin(self, state: Any) -> None:
        if self.requested:
            raise SearchStopped(f"stopped by {self.name} before training began")

    def after_trial(self, study: Any, trial: Any) -> None:
        """Optuna callback: start no trial once a stop is requested, or once the parent process is gone."""
        parent = multiprocessing.parent_process()
        if self.requested or (parent is not None and not parent.is_alive()):
            study.stop()

    def _request(self, signum: int, frame: Any) -> None:
        again = self.signal is not None
        self.signal = self.signal or signal.Signals(signum).name
        if self.shared is not None and not self.shared.value:
            self.shared.value = signum  # before forwarding: a worker whose handler is not in yet reads it
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        if again:
            raise KeyboardInterrupt

    def __enter__(self) -> StopRequest:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while workers start: a spawned process inherits the mask and unblocks it itself."""
    if not POSIX or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a signal held meanwhile is handled now


def start_worker_process(stop: StopRequest) -> None:
    """In a spawned worker: leave the terminal's process group (the parent forwards signals), then handle
    them; a signal from before this point was the parent's too, and reaches this worker through it."""
    if POSIX:
        os.setpgid(0, 0)
        _sigterm_when_parent_dies()
    stop.install(discard_pending=True)
    if POSIX:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the kernel was told
        stop.signal = "SIGTERM"


def _sigterm_when_parent_dies() -> None:
    """Linux: a parent killed outright (``kill -9``) cannot forward anything, and this worker is out of its
    process group: have the kernel send SIGTERM, so the running trial stops as on Ctrl-C. Elsewhere the
    worker notices between trials (:meth:`StopRequest.after_trial`)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


def signal_of(exc: BaseException) -> str:
    """The signal a ``TrainingInterrupted`` names (``interrupted by SIGTERM after ...``)."""
    found = re.search(r"\b(SIG[A-Z]+)\b", str(exc))
    return found.group(1) if found else "SIGINT"


def stop_message(study: optuna.Study, total: int | None, how: str) -> str:
    """``tuning stopped by SIGINT: 3 of 20 trials finished, 2 interrupted (...)``."""
    trials = study.get_trials(deepcopy=False)
    of = f" of {total}" if total is not None else ""
    return (
        f"tuning stopped {how}: {spent(study)}{of} trials finished, {len(interrupted_trials(trials))} interrupted "
        "(a rerun runs their parameters first)"
    )


def continue_command(
    config: Any,
    folder: Path,
    *,
    trials: int | None,
    timeout: float | str | None,
    workers: int,
    storage: str | None,
    overrides: list[str] | dict[str, Any] | None,
) -> str:
    """The command that continues a search: the same one, with the folder made explicit."""
    if not isinstance(config, str | Path):
        return "deepfit.tune(...) again with the same arguments"
    words = ["deepfit", "tune", str(config), "--dir", str(folder)]
    for flag, value in (("--trials", trials), ("--timeout", timeout), ("--storage", storage)):
        if value is not None:
            words += [flag, str(value)]
    if workers > 1:
        words += ["--workers", str(workers)]
    pairs = overrides.items() if isinstance(overrides, dict) else [s.split("=", 1) for s in overrides or []]
    for key, value in pairs:
        words += ["--set", f"{key}={value}"]
    return shlex.join(words)
