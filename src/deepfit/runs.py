"""The run directory: created once, every file written atomically (temp file + ``os.replace``).

A reader (``deepfit evaluate``, the report, ``deepfit.load``) never sees a half-written file, and a
full disk or Ctrl-C during a write leaves the previous version in place.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from deepfit.errors import DeepfitError, RunError

CONFIG = "config.yaml"
DATA_REPORT = "data_report.json"
METRICS = "metrics.jsonl"
EVAL = "eval.json"
CHECKPOINTS = "checkpoints"
MODEL = "model"


def new_run_dir(output_dir: str | Path, name: str, run_dir: str | Path | None = None) -> Path:
    """``run_dir`` exactly when given, else ``<output_dir>/<name>-<timestamp>`` (never reusing one)."""
    if run_dir is not None:
        path = Path(run_dir)
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
        path = Path(output_dir) / f"{safe}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(output_dir) / f"{safe}-{stamp}-{suffix}"
    try:
        (path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        (path / MODEL).mkdir(exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the run directory {path}: {exc.strerror}") from None
    return path


def _file_mode() -> int:
    """The mode a new file gets from ``open()`` under this process's umask (read once, at import)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "w", durable: bool = True) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, then move it into place.

    The rename alone makes the write atomic for readers and for a crashed process; ``durable`` adds an
    fsync (about 16 ms here) so that the file also survives a power cut. Files rewritten every epoch
    skip it: on a small model that fsync would cost more than the epoch.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600: give the file the mode open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _cannot_write(path: Path, exc: OSError) -> DeepfitError:
    return DeepfitError(f"cannot write {path}: {exc.strerror or exc}", hint="check free disk space and permissions")


def write_text(path: str | Path, text: str, durable: bool = True) -> None:
    atomic_write(path, lambda f: f.write(text), durable=durable)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, default=_jsonable) + "\n"


def write_jsonl(path: str | Path, rows: list[dict[str, Any]], durable: bool = True) -> None:
    write_text(path, "".join(map(json_line, rows)), durable=durable)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path} is missing", hint="is this a complete deepfit run directory?")
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def require_run_dir(path: str | Path) -> Path:
    path = Path(path)
    if not (path / MODEL / "meta.json").is_file():
        raise RunError(
            f"{path} is not a finished deepfit run (no {MODEL}/meta.json)",
            hint="pass the directory printed at the end of `deepfit train`",
        )
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
