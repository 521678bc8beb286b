"""Ctrl-C and SIGTERM as a request that a training loop acts on at a safe point, then saves and stops."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any


class Interrupts:
    """The first Ctrl-C or SIGTERM sets ``signal`` (its name) for the loop to see; a second Ctrl-C raises
    ``KeyboardInterrupt`` at once. Handlers are installed only in the main thread (Python's rule), and the
    previous ones come back on ``release``. Use ``with Interrupts() as interrupts:`` or install/release.

    ``echo`` seconds: a second signal sooner than that after the first is the same request. Under torchrun a
    terminal's Ctrl-C reaches every process, and torchrun forwards it to them again a moment later; the loop
    sets a few seconds when several processes train, so that one Ctrl-C still saves its checkpoint.
    """

    def __init__(self, echo: float = 0.0) -> None:
        self.signal: str | None = None
        self.echo = echo
        self._at = 0.0
        self._previous: dict[signal.Signals, Any] = {}

    def install(self) -> None:
        self.signal = None
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._request)

    def release(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _request(self, signum: int, frame: Any) -> None:
        if self.signal:
            if time.monotonic() - self._at < self.echo:
                return
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        self._at = time.monotonic()

    def __enter__(self) -> Interrupts:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
