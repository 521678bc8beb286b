"""A fingerprint of a run's data, so that a resume never goes on training on other data.

A file's fingerprint is its size and a SHA-256 of its content: the whole file up to 64 MiB, beyond that
16 slices of 1 MiB spread over it (cheap on any size, and a change of rows or values anywhere near them,
or of the size, is caught). A folder (images) is fingerprinted by its files' names and sizes. Modification
times are recorded to explain a refusal but never decide one: a copied or touched file with the same
bytes is the same data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

WHOLE = 64 << 20
SLICE, SLICES = 1 << 20, 16


def fingerprint(config: Any, frame: Any = None) -> dict[str, Any]:
    """``{"data.source": {...}, "data.test_source": {...}}`` for the sources a config reads."""
    prints: dict[str, Any] = {}
    if frame is not None:
        import pandas as pd

        prints["data.source"] = {"dataframe": str(int(pd.util.hash_pandas_object(frame, index=True).sum()))}
    for key in ("source", "validation_source", "test_source"):
        value = getattr(config.data, key)
        if (key == "source" and frame is not None) or not value or str(value).startswith("builtin:"):
            continue
        prints[f"data.{key}"] = path_fingerprint(config.resolve_path(value))
    return prints


def path_fingerprint(path: Path) -> dict[str, Any]:
    if path.is_dir():
        digest, count, size = hashlib.sha256(), 0, 0
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                item = Path(root, name)
                item_size = item.stat().st_size
                digest.update(f"{item.relative_to(path)}\0{item_size}\0".encode())
                count, size = count + 1, size + item_size
        return {"path": str(path), "files": count, "size": size, "sha256": digest.hexdigest()}
    if not path.is_file():
        return {"path": str(path), "missing": True}
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime": stat.st_mtime, "sha256": _file_digest(path, stat.st_size)}


def _file_digest(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= WHOLE:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            for i in range(SLICES):
                handle.seek((size - SLICE) * i // (SLICES - 1))
                digest.update(handle.read(SLICE))
    return digest.hexdigest()


def changes(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, in words (empty: the same data)."""
    found = []
    for key in sorted(set(saved) | set(now)):
        before, after = saved.get(key), now.get(key)
        if before is None or after is None:
            found.append(f"{key} was {'added' if before is None else 'removed'}")
        elif after.get("missing"):
            found.append(f"{key} {after['path']} no longer exists")
        elif "dataframe" in before or "dataframe" in after:
            if before.get("dataframe") != after.get("dataframe"):
                found.append(f"{key}: the DataFrame's values differ")
        elif before.get("sha256") != after.get("sha256") or before.get("size") != after.get("size"):
            what = (
                f"{before.get('size')} → {after.get('size')} bytes" if before.get("size") != after.get("size") else ""
            )
            found.append(f"{key} {after['path']} changed since the run started ({what or 'its content differs'})")
    return found
