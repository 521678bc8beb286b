"""Several processes on one machine: torchrun's environment read, and ``deepfit train --devices N``.

Torch-free, so that the command line can ask "am I rank 0?" (only rank 0 prints and writes) without importing
torch. The process group itself is joined in ``deepfit.training.distributed``.
"""

from __future__ import annotations

import os
import signal as signals
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any


def env_world() -> int:
    """``WORLD_SIZE`` as torchrun (or ``--devices``) set it; 1 outside a launcher."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def env_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_main() -> bool:
    """True in one process, and on rank 0 of many: the process that writes files and prints."""
    return env_rank() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(argv: Sequence[str], processes: int, *, grace: float = 30.0) -> int:
    """Run ``python -m deepfit ARGV`` in ``processes`` processes on this machine, as torchrun would.

    Each child gets torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT``
    on 127.0.0.1) and its share of the CPU threads. The children run in their own session, so that a Ctrl-C
    in the terminal reaches them once, from here: the first Ctrl-C or SIGTERM asks every rank to save one
    checkpoint and stop, a second stops them at once. When one child fails, the others get ``grace``
    seconds to exit before they are killed (a rank blocked in a collective never would). Returns the
    first failing child's exit code, or 0.
    """
    port = free_port()
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // processes))
    children = []
    for rank in range(processes):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(processes),
            "LOCAL_WORLD_SIZE": str(processes),
            "GROUP_RANK": "0",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "OMP_NUM_THREADS": threads,
        }
        children.append(subprocess.Popen([sys.executable, "-m", "deepfit", *argv], env=env, start_new_session=True))

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signals.signal(sig, forward) for sig in (signals.SIGINT, signals.SIGTERM)}
    try:
        failed_at, code = None, 0
        while any(child.poll() is None for child in children):
            time.sleep(0.05)
            bad = [child.returncode for child in children if child.returncode not in (None, 0)]
            if bad and failed_at is None:
                failed_at, code = time.monotonic(), bad[0]
            if failed_at is not None and time.monotonic() - failed_at > grace:
                for child in children:
                    if child.poll() is None:
                        child.kill()
        codes = [child.wait() for child in children]
        return code or next((c for c in codes if c), 0)
    finally:
        for sig, handler in previous.items():
            signals.signal(sig, handler)
