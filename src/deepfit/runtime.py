"""Predict with an exported deepfit model using only NumPy and onnxruntime (and the standard library).

Tables need nothing else. Images given as file bytes (or at another size) need Pillow, raw texts need
``tokenizers``: each is imported only when such input comes.

``deepfit export RUN_DIR`` writes a folder holding ``model.onnx``, the fitted preprocessing as JSON
(``preprocessing.json``), an input schema (``schema.json``), ``metadata.json`` and a copy of this module
(``deepfit_runtime.py``), so the folder predicts where deepfit, PyTorch and pandas are not installed::

    rt = load("export/")                       # or: import deepfit_runtime as runtime; runtime.load(".")
    rt.predict([{"x1": 0.3, "color": "red"}])  # [{"prediction": "yes", "proba_no": 0.2, "proba_yes": 0.8}]

    python predict.py input.csv > predictions.csv

Why a re-implementation rather than the training code: that code is written on pandas and PyTorch, which a
serving image should not need. This module repeats the *transform* half of
``deepfit.data.tabular.preprocess.TabularPreprocessor`` (numeric imputation and scaling, missing-value
indicators, yes/no columns, one-hot and embedded categories, date features of ``deepfit.data.dates``, free
text of ``deepfit.data.words``) on the saved JSON state, in NumPy. ``deepfit export`` checks it against the
PyTorch path on held-out rows before it writes the folder, and the tests check it column by column.

Raw input is supported for tables (records: a list of dicts, as JSON gives them), images (``{"image":
pixels or file bytes}``, see :class:`Images`) and texts (``{"text": "..."}``, with ``tokenizers``, see
:class:`Texts`). Sequences and series predict from model-input arrays (``Runtime.run``), as ``schema.json``
describes them.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
import sys
import warnings
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

MODEL, METADATA, SCHEMA, PREPROCESSING = "model.onnx", "metadata.json", "schema.json", "preprocessing.json"
YES_WORDS = {"true", "yes", "y", "t", "1", "1.0"}
NO_WORDS = {"false", "no", "n", "f", "0", "0.0"}
_QUANTILE_BOUND = 1e-7  # the ranks of quantile scaling, as in training
_ROBUST_CLIP = 3.0
_WORD = re.compile(r"\w+")
_SCALED_DATE = ("days", "year", "month", "day_of_week", "day_of_year", "hour")


class InputError(ValueError):
    """Raw input the model cannot take (a missing column, a column of text where numbers were trained)."""


def load(export_dir: str | Path) -> Runtime:
    """The exported model of ``export_dir`` with its preprocessing, ready to predict."""
    return Runtime(export_dir)


class Runtime:
    """An exported model: ``metadata``, ``schema``, ``predict(records)`` and ``run(*arrays)``."""

    def __init__(self, export_dir: str | Path) -> None:
        import onnxruntime

        folder = Path(export_dir)
        self.metadata: dict[str, Any] = _read(folder / METADATA)
        self.schema: dict[str, Any] = _read(folder / SCHEMA)
        self.preprocessing: dict[str, Any] = _read(folder / PREPROCESSING)
        options = onnxruntime.SessionOptions()
        self.session = onnxruntime.InferenceSession(str(folder / MODEL), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        kind = self.preprocessing.get("kind")
        kinds: dict[str, Any] = {"tabular": Table, "image": Images, "text": Texts}
        generator = self.metadata.get("task") == "generation"
        self.transform: Table | Images | Texts | None = (
            kinds[kind](self.preprocessing) if kind in kinds and not generator else None
        )

    # ------------------------------------------------------------ raw rows → predictions
    def features(self, records: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        """The model inputs of raw rows: ``[x]`` or ``[x, x_cat]`` (tables), ``[x]`` (images), ``[ids]`` (texts)."""
        if self.metadata.get("task") == "generation":
            raise InputError("this is a GAN's generator: it draws samples (Runtime.sample(n)) and predicts nothing")
        if self.transform is None:
            kind = self.metadata.get("kind")
            raise InputError(
                f"raw input is supported for tables, images and texts; this model reads {kind} data, whose "
                "preprocessing (sequence padding, series windows) is not part of the runtime: pass model-input "
                "arrays to Runtime.run (schema.json's inputs)"
            )
        records = [records] if isinstance(records, dict) else list(records)
        wrong = next((r for r in records if not isinstance(r, dict)), None)
        if wrong is not None:
            raise InputError(f"a record is an object of fields (a dict); got a {type(wrong).__name__}: {wrong!r:.80}")
        return self.transform.transform(records)

    def run(self, *arrays: np.ndarray) -> np.ndarray:
        """Raw model outputs (logits or standardised values) of model-input arrays, batch first."""
        if len(arrays) != len(self.input_names):
            raise InputError(f"the model takes {len(self.input_names)} inputs ({', '.join(self.input_names)})")
        feed = {}
        for name, array, info in zip(self.input_names, arrays, self.session.get_inputs(), strict=True):
            dtype = np.int64 if "int64" in info.type else np.float32
            feed[name] = np.ascontiguousarray(array, dtype=dtype)
        return np.asarray(self.session.run(None, feed)[0])

    def predict(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One dict per row: ``prediction`` and, for classification, ``proba_<class>`` (as ``deepfit predict``)."""
        records = [records] if isinstance(records, dict) else list(records)
        if not records:
            return []
        return self.decode(self.run(*self.features(records)))

    def decode(self, outputs: np.ndarray) -> list[dict[str, Any]]:
        """Model outputs as prediction dicts: class names and probabilities, or values in the target's units."""
        state = self.preprocessing.get("state", {})
        if self.metadata.get("task") == "classification":
            classes = self.metadata.get("classes") or []
            proba = softmax(outputs)
            best = proba.argmax(1)
            return [
                {"prediction": classes[int(b)], **{f"proba_{c}": float(p) for c, p in zip(classes, row, strict=True)}}
                for b, row in zip(best, proba, strict=True)
            ]
        values = outputs.astype(np.float64) * state.get("target_std", 1.0) + state.get("target_mean", 0.0)
        values = values.reshape(len(values), -1)
        names = self.metadata.get("output_names") or (
            ["prediction"] if values.shape[1] == 1 else [f"prediction_{i + 1}" for i in range(values.shape[1])]
        )
        return [{n: float(v) for n, v in zip(names, row, strict=True)} for row in values]

    # ------------------------------------------------------------ a GAN's generator
    def sample(self, n: int, seed: int | None = 0) -> list[dict[str, Any]] | np.ndarray:
        """``n`` samples of a GAN's generator: rows (dicts) or uint8 images (N x H x W x C).

        The noise is NumPy's (``default_rng(seed)``), so the samples follow the run's distribution but are not
        the rows ``deepfit sample`` draws with the same seed (that uses torch's generator).
        """
        if self.metadata.get("task") != "generation":
            raise InputError("sample() is for a GAN's generator; this model predicts: use predict(records)")
        noise = np.random.default_rng(seed).standard_normal((n, int(self.metadata["latent_dim"])))
        return self.decode_samples(self.run(noise.astype(np.float32)))

    def decode_samples(self, outputs: np.ndarray) -> list[dict[str, Any]] | np.ndarray:
        """The generator's outputs as rows in original units and category values, or uint8 images."""
        codec, values = self.preprocessing, outputs.astype(np.float64)
        if codec.get("data") == "image":
            return np.round((values.clip(-1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
        state = codec["preprocessor"]["state"]
        num, columns = state["numeric"], {}
        k = len(num["columns"])
        numbers = (values[:, :k] * np.array(num["scale"]) + np.array(num["center"])).clip(codec["min"], codec["max"])
        for i, name in enumerate(num["columns"]):
            columns[name] = [int(v) for v in np.round(numbers[:, i])] if codec["integer"][i] else list(numbers[:, i])
        start = k
        for name, info in state["onehot"].items():
            width = len(info["categories"])
            keys = [info["categories"][j] for j in values[:, start : start + width].argmax(1)]
            columns[name] = [codec["labels"][name].get(key) for key in keys]
            start += width
        order = codec["columns"]
        return [{c: columns[c][row] for c in order} for row in range(len(values))]


def softmax(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities of logits, row-wise, in float64."""
    z = outputs.astype(np.float64)
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


# ---------------------------------------------------------------- tables
class Table:
    """The transform of a saved ``TabularPreprocessor`` state in NumPy (see the module docstring)."""

    def __init__(self, saved: dict[str, Any]) -> None:
        self.state = saved["state"]
        self.scaling = saved.get("config", {}).get("scaling", "standard")

    def transform(self, records: Sequence[dict[str, Any]], source: str = "the input") -> list[np.ndarray]:
        s, n = self.state, len(records)
        present = set().union(*(r.keys() for r in records)) if records else set()
        absent = [c for c in s["features"] if c not in present]
        if absent:
            raise InputError(
                f"feature column '{absent[0]}' is missing from {source}"
                + (f" ({len(absent)} columns missing: {', '.join(absent[:10])})" if len(absent) > 1 else "")
                + "; the model was trained with the columns: "
                + ", ".join(s["features"][:30])
            )
        column = {c: [r.get(c) for r in records] for c in s["features"]}
        blocks: list[np.ndarray] = []
        num = s["numeric"]
        if num["columns"]:
            values = np.column_stack([_numbers(column[c], c, source) for c in num["columns"]]).reshape(n, -1)
            missing = np.isnan(values)
            values = np.where(missing, np.array(num["fill"]), values)
            blocks.append(scale_numbers(values, self.scaling, num))
            if num.get("missing"):
                blocks.append(missing[:, [num["columns"].index(c) for c in num["missing"]]].astype(float))
        for name in s["boolean"]["columns"]:
            flags = _flags(column[name], name, source)
            blocks.append(np.where(np.isnan(flags), s["boolean"]["fill"][name], flags)[:, None])
        for name, info in s["onehot"].items():
            eye = np.vstack([np.eye(len(info["categories"])), np.zeros((1, len(info["categories"])))])
            blocks.append(eye[_codes(column[name], info)].reshape(n, -1))
        for name, info in s.get("date", {}).items():
            blocks.append(date_features([parse_date(v, info["format"]) for v in column[name]], info))
        text = s.get("text", {})
        for name in text.get("columns", []):
            lsa = text.get("lsa", {}).get(name)
            blocks.append(text_features(column[name], lsa) if lsa else hashed_words(column[name], text["buckets"]))
        x = np.hstack(blocks) if blocks else np.zeros((n, 0))
        arrays = [x.astype(np.float32)]
        if s["embedding"]:
            cat = np.stack([_codes(column[c], info) + 1 for c, info in s["embedding"].items()], axis=1)
            arrays.append(cat.astype(np.int64))
        return arrays


class Images:
    """The transform of a saved ``ImagePreprocessor``: pixels at the trained size and mode, standardised.

    A record is ``{"image": pixels}`` (values 0..255, H x W or H x W x C, C = 1, 3 or 4) or ``{"image": bytes}``
    of an image file (PNG, JPEG, ...). Pixels at the trained size and mode need NumPy only; bytes, and pixels
    of another size or mode, are decoded and resized by Pillow as training did (bilinear), when installed.
    Paths are not opened: a server must not read files a request names.
    """

    def __init__(self, saved: dict[str, Any]) -> None:
        s = saved["state"]
        self.size, self.mode = (int(s["size"][0]), int(s["size"][1])), s["mode"]
        self.mean = np.asarray(s["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(s["std"], dtype=np.float32).reshape(1, -1, 1, 1)

    def transform(self, records: Sequence[dict[str, Any]], source: str = "the input") -> list[np.ndarray]:
        pixels = np.stack([self.pixels(r.get("image"), f"{source}, row {i + 1}") for i, r in enumerate(records)])
        return [((pixels.astype(np.float32) / np.float32(255.0) - self.mean) / self.std).astype(np.float32)]

    def pixels(self, value: Any, where: str) -> np.ndarray:
        """uint8 C x H x W at the trained size and mode."""
        channels = 1 if self.mode == "grayscale" else 3
        if value is None:
            raise InputError(f"{where}: no 'image' (pixels, or the bytes of an image file)")
        if isinstance(value, bytes | bytearray):
            return self._pillow(value, where)
        array = np.asarray(value)
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3, 4):
            array = array.transpose(1, 2, 0)  # C x H x W, as torch lays images out
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise InputError(f"{where}: an image is H x W or H x W x C (C = 1, 3 or 4); got shape {array.shape}")
        array = np.clip(array, 0, 255).astype(np.uint8)
        array = array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
        if array.shape[:2] == self.size and (array.ndim == 2) == (channels == 1):
            return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))
        return self._pillow(array, where)

    def _pillow(self, value: Any, where: str) -> np.ndarray:
        try:
            from PIL import Image, ImageOps
        except ImportError:
            raise InputError(
                f"{where}: image bytes, or pixels of another size or mode than the trained "
                f"{self.size[0]} x {self.size[1]} {self.mode}, need Pillow (pip install pillow)"
            ) from None
        import io

        pil_mode, (height, width) = ("L" if self.mode == "grayscale" else "RGB"), self.size
        try:
            if isinstance(value, np.ndarray):
                picture = Image.fromarray(value).convert(pil_mode)
            else:
                with Image.open(io.BytesIO(value)) as image:
                    image.draft(pil_mode, (width, height))  # JPEG: decode at a smaller scale, as training did
                    picture = ImageOps.exif_transpose(image).convert(pil_mode)
        except Exception as exc:  # Pillow raises many kinds on bad bytes
            raise InputError(f"{where}: not a readable image ({type(exc).__name__}: {exc})") from None
        if picture.size != (width, height):
            picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(picture, dtype=np.uint8)
        return array[None] if array.ndim == 2 else np.ascontiguousarray(array.transpose(2, 0, 1))


class Texts:
    """The transform of a saved ``TextPreprocessor``: the fitted tokenizer, truncated and padded (id 0).

    A record is ``{<text column>: "a text"}``. The tokenizer is Hugging Face ``tokenizers`` (Rust, no torch),
    saved as its own JSON in the preprocessing; rebuilding it is not worth a re-implementation, so raw texts
    need ``pip install tokenizers`` (an ``InputError`` says so when it is missing).
    """

    def __init__(self, saved: dict[str, Any]) -> None:
        self.state = saved["state"]
        self.column = self.state["text_column"]
        self._tokenizer: Any = None

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            try:
                from tokenizers import Tokenizer
            except ImportError:
                raise InputError("raw texts need the tokenizer library: pip install tokenizers") from None
            tokenizer = Tokenizer.from_str(self.state["tokenizer"])
            tokenizer.enable_truncation(max_length=self.state["seq_len"])
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=self.state["seq_len"])
            self._tokenizer = tokenizer
        return self._tokenizer

    def transform(self, records: Sequence[dict[str, Any]], source: str = "the input") -> list[np.ndarray]:
        if not any(self.column in r for r in records):
            raise InputError(f"text column '{self.column}' is missing from {source}")
        texts = ["" if is_missing(r.get(self.column)) else str(r.get(self.column)).strip() for r in records]
        if all(t == "" for t in texts):
            raise InputError(f"all {len(texts)} texts in column '{self.column}' of {source} are empty")
        encodings = self.tokenizer().encode_batch(texts)
        return [np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(texts), self.state["seq_len"])]


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> tuple[float, bool]:
    """A cell as a float (NaN when missing, text or infinite) and whether it was text."""
    if is_missing(value):
        return math.nan, False
    if isinstance(value, bool):
        return float(value), False
    if isinstance(value, int | float | np.number):
        number = float(value)
    else:
        text = str(value).strip()
        if not text:
            return math.nan, False
        try:
            number = float(text)
        except ValueError:
            return math.nan, True
    return (number if math.isfinite(number) else math.nan), False


def _numbers(values: list[Any], name: str, source: str) -> np.ndarray:
    parsed = [_number(v) for v in values]
    text = [v for v, (_, is_text) in zip(values, parsed, strict=True) if is_text]
    if text and all(math.isnan(p) for p, _ in parsed):
        raise InputError(f"feature column '{name}' of {source} holds no numbers: {', '.join(map(repr, text[:3]))}")
    if text:
        warnings.warn(f"{source}: column '{name}': {len(text)} cells are not numbers; imputed", stacklevel=3)
    return np.array([p for p, _ in parsed], dtype=float)


def _flags(values: list[Any], name: str, source: str) -> np.ndarray:
    words = [None if is_missing(v) else str(v).strip().lower() for v in values]
    flags = np.array([1.0 if w in YES_WORDS else 0.0 if w in NO_WORDS else math.nan for w in words])
    unknown = [v for v, w in zip(values, words, strict=True) if w is not None and w not in YES_WORDS | NO_WORDS]
    if unknown and np.isnan(flags).all():
        raise InputError(f"feature column '{name}' of {source} holds no yes/no values: {unknown[:3]!r}")
    return flags


def category_key(value: Any) -> str:
    """Categories compared as text, so 3, 3.0 and "3" agree (``deepfit.data.tabular.preprocess``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.number) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _codes(values: list[Any], info: dict[str, Any]) -> np.ndarray:
    """Index of each cell's category, -1 when unknown; a missing cell takes the training mode."""
    index = {c: i for i, c in enumerate(info["categories"])}
    fill = info["fill"] if info["fill"] is not None else ""
    return np.array([index.get(category_key(fill if is_missing(v) else v), -1) for v in values], dtype=np.int64)


def scale_numbers(values: np.ndarray, method: str, state: dict[str, Any]) -> np.ndarray:
    """data.preprocess.scaling on imputed values: standard, minmax, robust (smoothly clipped), quantile, none."""
    if method == "quantile":
        columns = [_to_normal(values[:, i], np.asarray(q)) for i, q in enumerate(state["quantiles"])]
        return np.column_stack(columns).reshape(values.shape)
    scaled = (values - np.array(state["center"])) / np.array(state["scale"])
    return scaled / np.sqrt(1 + (scaled / _ROBUST_CLIP) ** 2) if method == "robust" else scaled


def _to_normal(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    ranks = np.linspace(0.0, 1.0, len(quantiles))
    up = np.interp(x, quantiles, ranks)
    down = -np.interp(-x, -quantiles[::-1], -ranks[::-1])
    return ndtri(np.clip(0.5 * (up + down), _QUANTILE_BOUND, 1 - _QUANTILE_BOUND))


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def ndtri(p: np.ndarray) -> np.ndarray:
    """The inverse of the standard normal CDF (SciPy's ``ndtri``), for 0 < p < 1.

    NumPy has none: P. J. Acklam's rational approximation (relative error 1.2e-9), then one Halley step on
    ``math.erfc`` (Acklam's own refinement), which brings it to double precision.
    """
    a: tuple[float, ...] = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02)
    a += (1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b: tuple[float, ...] = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02)
    b += (6.680131188771972e01, -1.328068155288572e01)
    c: tuple[float, ...] = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00)
    c += (-2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    p = np.asarray(p, dtype=np.float64)
    q = np.where(p < 0.5, p, 1 - p)  # the lower tail, mirrored
    r = np.sqrt(-2 * np.log(np.maximum(q, 1e-300)))
    tail = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / (
        (((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1
    )
    u = q - 0.5
    t = u * u
    central = (
        (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5])
        * u
        / (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1)
    )
    x = np.where(q < 0.02425, tail, central)
    error = 0.5 * np.asarray(_ERFC(-x / math.sqrt(2)), dtype=np.float64) - q
    step = error * math.sqrt(2 * math.pi) * np.exp(x * x / 2)
    x = x - step / (1 + x * step / 2)
    return np.where(p < 0.5, x, -x)


# ---------------------------------------------------------------- dates (deepfit.data.dates)
def parse_date(value: Any, fmt: str) -> datetime | None:
    """A cell as a naive UTC datetime read with the training format; None when missing or unreadable."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):  # a Python caller's datetime (pandas Timestamps are datetimes too)
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    try:
        if fmt in ("epoch_s", "epoch_ms"):
            number = float(value)
            return datetime(1970, 1, 1) + timedelta(seconds=number / (1000 if fmt == "epoch_ms" else 1))
        text = str(value).strip()
        if fmt == "ISO8601":
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = datetime.strptime(text, fmt)
    except (ValueError, OverflowError):
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo is not None else parsed


def date_features(dates: list[datetime | None], state: dict[str, Any]) -> np.ndarray:
    """(rows, features) in the order of ``deepfit.data.dates.feature_names``."""
    fill, origin = datetime.fromisoformat(state["fill"]), datetime.fromisoformat(state["origin"])
    filled = [d if d is not None else fill for d in dates]
    raw = {
        "days": [(d - origin) / timedelta(days=1) for d in filled],
        "year": [d.year for d in filled],
        "month": [d.month for d in filled],
        "day_of_week": [d.weekday() for d in filled],
        "day_of_year": [d.timetuple().tm_yday for d in filled],
    }
    if state["hour"]:
        raw["hour"] = [d.hour + d.minute / 60 + (d.second + d.microsecond / 1e6) / 3600 for d in filled]
    arrays = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    scaled = np.column_stack([arrays[k] for k in _SCALED_DATE if k in arrays])
    blocks = [(scaled - np.array(state["center"])) / np.array(state["scale"])]
    month, dow = arrays["month"] - 1, arrays["day_of_week"]
    blocks.append(np.column_stack([np.sin(2 * np.pi * month / 12), np.cos(2 * np.pi * month / 12)]))
    blocks.append(np.column_stack([np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)]))
    if state["hour"]:
        hour = arrays["hour"]
        blocks.append(np.column_stack([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)]))
    if state["missing"]:
        blocks.append(np.array([d is None for d in dates], dtype=float)[:, None])
    return np.hstack(blocks)


# ---------------------------------------------------------------- free text (deepfit.data.words)
def _hashed_counts(values: Iterable[Any], buckets: int) -> np.ndarray:
    rows = []
    for value in values:
        row = np.zeros(buckets)
        if not is_missing(value):
            tokens = _WORD.findall(str(value).lower())
            for gram in tokens + [f"{a} {b}" for a, b in pairwise(tokens)]:
                row[zlib.crc32(gram.encode("utf-8")) % buckets] += 1
        rows.append(np.log1p(row))
    return np.array(rows).reshape(-1, buckets)


def _normalised(x: np.ndarray) -> np.ndarray:
    norms = np.sqrt((x * x).sum(axis=1, keepdims=True))
    return x / np.where(norms > 0, norms, 1.0)


def hashed_words(values: list[Any], buckets: int) -> np.ndarray:
    return _normalised(_hashed_counts(values, buckets))


def text_features(values: list[Any], state: dict[str, Any]) -> np.ndarray:
    idf = np.asarray(state["idf"])
    weighted = _normalised(_hashed_counts(values, len(idf)) * idf)
    projected = weighted @ np.asarray(state["components"]).T
    return (projected - np.asarray(state["mean"])) / np.asarray(state["std"])


# ---------------------------------------------------------------- files
def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path} is missing: is {path.parent} a folder written by `deepfit export`?") from None


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV file as records; an empty cell is missing (as pandas reads it)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(f)]


def main(argv: Sequence[str] | None = None, export_dir: str | Path | None = None) -> int:
    """``python predict.py INPUT.csv [-o OUT.csv]``: predictions of a CSV's rows (or of image files) as CSV."""
    import argparse

    parser = argparse.ArgumentParser(description="Predict with an exported deepfit model (numpy + onnxruntime).")
    parser.add_argument(
        "input",
        nargs="+",
        help="a CSV file of raw rows (one column per field), - for JSON records on stdin, or image files",
    )
    parser.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    if export_dir is None:
        parser.add_argument("--model", default=".", help="the export folder (default: the current folder)")
    args = parser.parse_args(argv)
    rt = load(export_dir if export_dir is not None else args.model)
    images = rt.metadata.get("kind") == "image" and not args.input[0].lower().endswith((".csv", ".json"))
    try:
        if rt.metadata.get("task") == "generation":  # a GAN: INPUT is how many rows to draw
            if images or not args.input[0].isdigit():
                raise InputError("a GAN's generator: python predict.py N draws N rows (images: Runtime.sample)")
            samples = rt.sample(int(args.input[0]))
            rows = samples if isinstance(samples, list) else []
        elif images:  # files named on the command line; a server never opens paths from a request
            rows = [{"path": p, **r} for p, r in zip(args.input, _predict_files(rt, args.input), strict=True)]
        elif args.input == ["-"]:
            rows = rt.predict(json.load(sys.stdin))
        else:
            rows = rt.predict([row for path in args.input for row in read_csv(path)])
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    columns = list(rows[0]) if rows else ["prediction"]
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(args.output, "w", newline="", encoding="utf-8")) if args.output else sys.stdout
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return 0


def _predict_files(rt: Runtime, paths: list[str]) -> list[dict[str, Any]]:
    return rt.predict([{"image": Path(p).read_bytes()} for p in paths])
