"""Image sources, decoded once with Pillow into a compact uint8 array (N x C x H x W).

Sources: a folder with one sub-folder per class, a table (CSV, Parquet, DataFrame) with a path column
and a label column (paths relative to the table's folder), and ``builtin:digits`` as 8x8 grayscale images.
Decoding reads every file in two passes over a thread pool (Pillow releases the GIL while it decodes):
headers first (size, colour, a hash of the bytes), so that the default size and mode come from the data,
then pixels at the resolved size. The result can be kept in a ``.npz`` cache keyed by the file list,
their sizes and modification times and the settings, so a rerun (or a tuning trial) skips decoding.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfit.errors import DataError, did_you_mean

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
MAX_AUTO_SIDE = 64  # the default size keeps the most common size, scaled down to fit this (CPU-friendly)
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
_CACHE_VERSION = 1
_ORIENTATION = 0x0112  # the EXIF tag of how the camera was held


@dataclass
class Decoded:
    """Pixels of the files that could be read, and what went wrong with the others."""

    pixels: np.ndarray  # uint8, (number of ok files) x C x H x W
    ok: np.ndarray  # bool per input path
    hashes: list[str]  # per input path ("" when unreadable): a hash of the file's bytes
    failures: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}
    size: tuple[int, int] = (0, 0)  # (height, width)
    mode: str = "rgb"  # rgb | grayscale
    sizes_seen: dict[str, int] = field(default_factory=dict)  # "HxW" -> count, the most common first


# ---------------------------------------------------------------- listing sources
def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (recursively, hidden folders skipped), in a stable order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in sorted(files) if is_image_file(Path(f)))
    return found


def list_class_folder(folder: Path, target: str) -> pd.DataFrame:
    """``path`` and ``target`` (the class sub-folder's name) of every image; each class folder must hold some."""
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}", hint="paths in a config are relative to its folder")
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        loose = sum(1 for f in folder.iterdir() if f.is_file() and is_image_file(f))
        raise DataError(
            f"{folder} has no class sub-folders"
            + (f" ({loose} images lie directly in it)" if loose else "")
            + "; an image folder holds one sub-folder per class",
            hint=f"arrange it as {folder}/<class name>/<image>.png, or list the images in a CSV with "
            "path and label columns (data.kind: image, data.image.path_column, data.target)",
        )
    paths, labels = [], []
    for class_dir in classes:
        files = image_files(class_dir)
        if not files:
            raise DataError(
                f"class folder {class_dir} holds no images",
                hint=f"add images ({', '.join(sorted(IMAGE_SUFFIXES))}) or remove the folder",
            )
        paths += [str(f) for f in files]
        labels += [class_dir.name] * len(files)
    return pd.DataFrame({"path": paths, target: labels})


def resolve_path_column(frame: pd.DataFrame, column: str, base: Path, source: str) -> pd.DataFrame:
    """The table with ``column`` made of usable paths: relative ones are taken from ``base``."""
    if column not in frame.columns:
        raise DataError(
            f"the image path column '{column}' is not in {source}{did_you_mean(column, frame.columns)}",
            hint=f"set data.image.path_column; the columns are: {', '.join(map(str, frame.columns[:20]))}",
        )
    frame = frame[frame[column].notna()].copy()
    frame[column] = [str(p) if Path(str(p)).is_absolute() else str(base / str(p)) for p in frame[column]]
    return frame


def builtin_digits() -> tuple[pd.DataFrame, np.ndarray]:
    """scikit-learn's 8x8 digits as 1-channel uint8 images (values 0..16 scaled to 0..255)."""
    from sklearn.datasets import load_digits  # heavy import: only when asked for

    bunch = load_digits()
    pixels = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[:, None]
    records = pd.DataFrame({"path": [f"builtin:digits/{i}" for i in range(len(pixels))], "target": bunch.target})
    return records, pixels


def pixel_hashes(pixels: np.ndarray) -> list[str]:
    """Images held in memory have no file bytes: their pixels are hashed instead."""
    return [hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() for image in pixels]


# ---------------------------------------------------------------- decoding
def decode_files(
    paths: list[str],
    *,
    size: tuple[int, int] | None = None,
    mode: str = "auto",
    cache_dir: Path | None = None,
) -> Decoded:
    """Decode ``paths`` to uint8 pixels at ``size`` (H, W) and ``mode``; defaults are resolved from the files."""
    cache = cache_dir / f"{_cache_key(paths, size, mode)}.npz" if cache_dir is not None else None
    if cache is not None:
        cached = _read_cache(cache)
        if cached is not None:
            return cached
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        headers = list(pool.map(_header, paths))
        failures = {p: h["error"] for p, h in zip(paths, headers, strict=True) if "error" in h}
        good = [h for h in headers if "error" not in h]
        sizes = Counter(h["size"] for h in good)  # (height, width)
        shape = (size[0], size[1]) if size else _default_size(sizes)  # (height, width)
        if mode == "auto":
            mode = "rgb" if any(h["colour"] for h in good) else "grayscale"
        todo = [p for p in paths if p not in failures]
        images = dict(zip(todo, pool.map(lambda p: _decode(p, shape, mode), todo), strict=True))
    for path, image in images.items():
        if isinstance(image, str):
            failures[path] = image
    ok = np.array([p not in failures for p in paths], dtype=bool)
    channels = 3 if mode == "rgb" else 1
    stacked = [images[p] for p, keep in zip(paths, ok, strict=True) if keep]
    pixels = np.stack(stacked) if stacked else np.zeros((0, channels, *shape), dtype=np.uint8)
    decoded = Decoded(
        pixels=pixels,
        ok=ok,
        hashes=[h.get("hash", "") if keep else "" for h, keep in zip(headers, ok, strict=True)],
        failures=[{"path": p, "reason": failures[p]} for p in paths if p in failures],
        size=(int(shape[0]), int(shape[1])),
        mode=mode,
        sizes_seen={f"{h}x{w}": n for (h, w), n in sizes.most_common(10)},
    )
    if cache is not None:
        _write_cache(cache, decoded)
    return decoded


def load_pixels(paths: list[str], size: tuple[int, int], mode: str, source: str) -> np.ndarray:
    """Pixels of every path, or a DataError naming the files that cannot be read (prediction needs them all)."""
    decoded = decode_files(paths, size=size, mode=mode)
    if decoded.failures:
        raise DataError(
            f"{len(decoded.failures)} image(s) of {source} cannot be read: " + _failure_lines(decoded.failures),
            hint="remove or replace those files",
        )
    return decoded.pixels


def convert_array(array: np.ndarray, size: tuple[int, int], mode: str, source: str) -> np.ndarray:
    """N x H x W or N x H x W x C values in 0..255 → uint8 N x C x H x W at ``size`` (H, W) and ``mode``."""
    from PIL import Image

    if array.ndim == 4 and array.shape[1] in (1, 3) and array.shape[3] not in (1, 3, 4):
        array = array.transpose(0, 2, 3, 1)  # N x C x H x W, as torch lays images out
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[3] not in (1, 3, 4)):
        raise DataError(
            f"{source}: an image array is N x H x W or N x H x W x C (C = 1, 3 or 4); got shape {array.shape}"
        )
    array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    pil_mode, (height, width) = ("L" if mode == "grayscale" else "RGB"), size
    images = []
    for image in array:
        picture = Image.fromarray(image).convert(pil_mode)
        if picture.size != (width, height):
            picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        images.append(np.asarray(picture))
    stacked = np.stack(images) if images else np.zeros((0, height, width), dtype=np.uint8)
    return np.ascontiguousarray(stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2))


def _failure_lines(failures: list[dict[str, str]], limit: int = 5) -> str:
    text = "; ".join(f"{f['path']} ({f['reason']})" for f in failures[:limit])
    return text + (f"; … ({len(failures)} in all)" if len(failures) > limit else "")


def failures_error(failures: list[dict[str, str]], source: str) -> DataError:
    return DataError(
        f"{len(failures)} image(s) in {source} cannot be read: " + _failure_lines(failures),
        hint="fix or remove them, or set data.image.on_error: skip to leave them out (they are named in the report)",
    )


def _header(path: str) -> dict[str, Any]:
    from PIL import Image

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"error": f"cannot be read: {exc.strerror or exc}"}
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8):  # a camera turned sideways: decoded upright
                width, height = height, width
            colour = _is_colour(image)
    except Exception as exc:  # Pillow raises many types for bad files; each becomes a named, skipped file
        return {"error": f"not a readable image: {_reason(exc)}"}
    return {"hash": hashlib.blake2b(data, digest_size=16).hexdigest(), "size": (height, width), "colour": colour}


def decode_bytes(data: bytes, size: tuple[int, int], mode: str, max_pixels: int = 50_000_000) -> np.ndarray | str:
    """uint8 C x H x W pixels of an encoded image held in memory (an upload), or the reason it cannot be decoded.

    The decoding files get (orientation, mode, size), from the bytes alone: nothing is read from disk. An image
    of more than ``max_pixels`` pixels is refused from its header, before its pixels are decoded.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:  # Pillow raises many types for bad data
        return f"not a readable image: {_reason(exc)}"
    if width * height > max_pixels:
        return f"too large: {width}x{height} pixels (at most {max_pixels:,})"
    return _decode(io.BytesIO(data), size, mode)


def _decode(path: str | io.BytesIO, size: tuple[int, int], mode: str) -> np.ndarray | str:
    """uint8 C x H x W pixels, or the reason the file (or the bytes) cannot be decoded."""
    from PIL import Image, ImageOps

    height, width = size
    try:
        with Image.open(path) as image:
            image.draft("L" if mode == "grayscale" else "RGB", (width, height))  # JPEG: decode at a smaller scale
            upright = ImageOps.exif_transpose(image).convert("L" if mode == "grayscale" else "RGB")
            if upright.size != (width, height):
                upright = upright.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(upright, dtype=np.uint8)
    except Exception as exc:  # truncated or corrupt data shows only when the pixels are decoded
        return f"not a readable image: {_reason(exc)}"
    return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


def _is_colour(image: Any) -> bool:
    if image.mode in _GRAY_MODES:
        return False
    if image.mode == "P":  # a palette is colour only when some entry is not grey
        palette = np.asarray(image.getpalette() or [], dtype=np.int32)
        rgb = palette[: len(palette) // 3 * 3].reshape(-1, 3)
        return bool((rgb != rgb[:, :1]).any())
    return True


def _reason(exc: Exception) -> str:
    return str(exc).replace(" <_io.BytesIO object", "").split(" at 0x")[0] or type(exc).__name__


def _default_size(sizes: Counter[tuple[int, int]]) -> tuple[int, int]:
    """The most common size, scaled down (aspect kept) so that its longer side is at most MAX_AUTO_SIDE."""
    if not sizes:
        return (32, 32)
    height, width = sizes.most_common(1)[0][0]
    scale = min(1.0, MAX_AUTO_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


# ---------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deepfit" / "images"


def _cache_key(paths: list[str], size: tuple[int, int] | None, mode: str) -> str:
    """Any change to a file (size, mtime), to the file list or to the settings gives another key."""
    files = []
    for path in paths:
        try:
            stat = os.stat(path)
            files.append([os.path.abspath(path), stat.st_size, stat.st_mtime_ns])
        except OSError:
            files.append([os.path.abspath(path), -1, -1])
    settings = {"version": _CACHE_VERSION, "size": list(size) if size else None, "mode": mode, "files": files}
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:32]


def _read_cache(path: Path) -> Decoded | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            meta["size"] = tuple(meta["size"])
            return Decoded(pixels=data["pixels"], ok=data["ok"], **meta)
    except (OSError, ValueError, KeyError, TypeError):  # a damaged cache file is only a slower run
        return None


def _write_cache(path: Path, decoded: Decoded) -> None:
    meta = {k: getattr(decoded, k) for k in ("hashes", "failures", "size", "mode", "sizes_seen")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(temp, pixels=decoded.pixels, ok=decoded.ok, meta=np.array(json.dumps(meta)))
        os.replace(temp, path)
    except OSError as exc:
        warnings.warn(f"the decoded-image cache was not written to {path.parent} ({exc})", stacklevel=3)
