"""The run directory: created once, every file written atomically (temp file + ``os.replace``).

A reader (``deepfit evaluate``, the report, ``deepfit.load``) never sees a half-written file, and a
full disk or Ctrl-C during a write leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
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
LOCK = ".lock"
# The layout of model/ and checkpoints/ this deepfit writes and reads; a run of a newer format is refused.
FORMAT = 1


def run_path(output_dir: str | Path, name: str, run_dir: str | Path | None = None) -> Path:
    """``run_dir`` exactly when given, else ``<output_dir>/<name>-<timestamp>`` (never reusing one)."""
    if run_dir is not None:
        return Path(run_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    path = Path(output_dir) / f"{safe}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(output_dir) / f"{safe}-{stamp}-{suffix}"
    return path


def _contents(path: Path) -> list[Path]:
    """What a run directory holds besides the lock file and empty folders."""
    if not path.is_dir():
        return []
    return [p for p in path.rglob("*") if p.name != LOCK and not (p.is_dir() and not any(p.iterdir()))]


def refuse_existing(path: Path) -> None:
    """A run directory that holds anything is never trained into again, except by resume or overwrite."""
    if path.exists() and not path.is_dir():
        raise RunError(f"the run directory {path} is a file", hint="choose another --run-dir")
    held = _contents(path)
    if held:
        what = "a run" if (path / CONFIG).exists() or (path / CHECKPOINTS).is_dir() else f"{len(held)} files"
        raise RunError(
            f"the run directory {path} already holds {what}; deepfit never trains over an existing run",
            hint=f"continue it with: deepfit train --resume {path}; or replace it with --overwrite; "
            "or leave out --run-dir for a new, timestamped directory",
        )


@contextlib.contextmanager
def claim_run_dir(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """Create (or reopen, to resume) a run directory and hold an exclusive lock on it for the whole run.

    A second process on the same directory gets a :class:`RunError` naming the process holding it. A new
    run refuses a directory that already holds files (``overwrite`` empties it first, under the lock);
    temp files left by a killed write are removed. If the run fails before writing anything, a directory it
    created is removed again, so a refused run leaves nothing behind.
    """
    import fcntl

    path = Path(path)
    if not resume and not overwrite:
        refuse_existing(path)  # before creating anything
    created = not path.exists()
    top = path  # the outermost folder this call creates (output.dir too, when it is new)
    while not top.parent.exists() and top.parent != top.parent.parent:
        top = top.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = (path / LOCK).open("a+", encoding="utf-8")
    except OSError as exc:
        raise RunError(f"cannot create the run directory {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(
                f"the run directory {path} is in use by {holder}",
                hint="wait for that run to finish (or stop it), or choose another --run-dir",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        if overwrite and not resume:
            for item in path.iterdir():
                if item.name != LOCK:
                    shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
        elif not resume:
            refuse_existing(path)  # again under the lock: another process may have finished a run here
        remove_temp_files(path)
        (path / CHECKPOINTS).mkdir(exist_ok=True)
        (path / MODEL).mkdir(exist_ok=True)
        try:
            yield path
        except BaseException:
            if created and not _contents(path):
                shutil.rmtree(path, ignore_errors=True)
                for folder in [*path.parents][: len(path.relative_to(top).parts) - 1]:
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only when empty: another run may have appeared there
            raise
    finally:
        # The lock file stays: removing it would let a process that opened it before the removal and one
        # that creates a new one both take "the" lock.
        handle.close()  # closing the file releases the lock


def remove_temp_files(path: Path) -> list[Path]:
    """Temp files that a killed ``atomic_write`` left behind (``.<name>.<random>.tmp``)."""
    found = [p for p in path.rglob(".*.tmp") if p.is_file()]
    for item in found:
        item.unlink(missing_ok=True)
    return found


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
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        full = _disk_full(exc, path)  # judged before the temp file is removed and frees its space
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) or full:
            raise _cannot_write(path, exc, full) from None
        raise


def _disk_full(exc: BaseException, path: Path) -> bool:
    """torch.save reports a full disk as a RuntimeError ("unexpected pos ..." or "file write failed")."""
    if getattr(exc, "errno", None) == errno.ENOSPC:
        return True
    if not isinstance(exc, RuntimeError):
        return False
    try:
        return shutil.disk_usage(path.parent).free < (1 << 20) or "No space left" in str(exc)
    except OSError:
        return False


def _cannot_write(path: Path, exc: BaseException, full: bool = False) -> DeepfitError:
    full = full or getattr(exc, "errno", None) == errno.ENOSPC
    reason = "the disk is full" if full else (getattr(exc, "strerror", None) or str(exc))
    return DeepfitError(
        f"cannot write {path}: {reason}; the previous version of the file, if any, is intact",
        hint="free disk space and try again (an interrupted training continues with --resume)"
        if full
        else "check free disk space and permissions",
    )


def append_line(handle: Any, path: Path, line: str) -> None:
    """Append one line to an open file (metrics.jsonl); a full disk is one clear error."""
    try:
        handle.write(line)
        handle.flush()
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def write_text(path: str | Path, text: str, durable: bool = True) -> None:
    atomic_write(path, lambda f: f.write(text), durable=durable)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, default=_jsonable) + "\n"


def write_jsonl(path: str | Path, rows: list[dict[str, Any]], durable: bool = True) -> None:
    write_text(path, "".join(map(json_line, rows)), durable=durable)


def read_json(path: str | Path) -> Any:
    """A JSON file of a run; a missing, cut or damaged one is a :class:`RunError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path} is missing", hint="is this a complete deepfit run directory?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise RunError(
            f"{path} is damaged (not valid JSON: {exc}); it was cut short or changed by hand",
            hint="restore it from a copy, or retrain the run",
        ) from None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """One row per line; a line a kill cut short (the last one) is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line) if line.strip() else None
            if isinstance(row, dict):
                rows.append(row)
    return rows


def require_run_dir(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"no run directory {path}", hint="pass the directory printed at the end of `deepfit train`")
    if not (path / MODEL / "meta.json").is_file():
        raise RunError(
            f"{path} is not a finished deepfit run (no {MODEL}/meta.json)",
            hint="pass the directory printed at the end of `deepfit train`; an interrupted run continues with "
            f"deepfit train --resume {path}",
        )
    return path


def check_format(meta: dict[str, Any], path: Path) -> None:
    """Refuse a run written in a newer layout than this deepfit reads (runs without the key are format 1)."""
    if not isinstance(meta, dict):
        raise RunError(f"{path} is damaged (not a JSON object)", hint="retrain the run")
    found = meta.get("format", 1)
    if not isinstance(found, int) or found > FORMAT:
        raise RunError(
            f"{path} was written by deepfit {meta.get('deepfit_version', '?')} in run format {found}; "
            f"this deepfit reads format {FORMAT} and older",
            hint="upgrade deepfit (pip install -U deepfit) to use this run",
        )


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
