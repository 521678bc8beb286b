"""What the server predicts with: a run directory (PyTorch) or an exported folder (onnxruntime).

Both stand behind one small protocol, :class:`Backend`: ``metadata()``, ``schema()`` (the input fields, from
which the app builds the request model that validates requests and documents them at ``/docs``) and
``predict(records)``, one dict per row in and out, the columns ``deepfit predict`` writes (``prediction``,
and ``proba_<class>`` for classification). Records are plain values only: an image is its encoded bytes,
decoded in memory, so no request ever names a file the server opens.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from deepfit.errors import DataError, RunError

Records = list[dict[str, Any]]
SERVED_KINDS = ("tabular", "text", "image")
IMAGE_FIELD = "image"  # the JSON field of an image (base64); multipart uploads need no name
EXPORT_MODELS = ("model.onnx", "model.pt2")


class Backend(Protocol):
    def metadata(self) -> dict[str, Any]: ...

    def schema(self) -> dict[str, Any]: ...

    def predict(self, records: Records) -> Records: ...


def load_backend(path: str | Path, *, trust_code: bool = False) -> Backend:
    """An exported folder (``metadata.json`` and ``model.onnx``/``model.pt2``) or a run directory (``model/``)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder", hint="give a run directory or a folder made by deepfit export")
    if (folder / "metadata.json").is_file() and any((folder / name).is_file() for name in EXPORT_MODELS):
        return ExportBackend(folder)
    if (folder / "model").is_dir():
        return RunBackend(folder, trust_code=trust_code)
    raise RunError(
        f"{folder} is neither a run directory (no model/ folder) nor an exported model (no metadata.json beside "
        "model.onnx or model.pt2)",
        hint="serve a run made by `deepfit train`, or a folder made by `deepfit export`",
    )


class RunBackend:
    """A run directory's model and preprocessing (``deepfit.load``): predictions equal ``deepfit predict``'s."""

    def __init__(self, run_dir: str | Path, *, trust_code: bool = False) -> None:
        from deepfit.predictor import Predictor

        self.run_dir = Path(run_dir)
        self.predictor = Predictor.load(run_dir, trust_code=trust_code)
        self.kind = str(getattr(self.predictor.preprocessor, "kind", ""))
        task = self.predictor.spec.task
        if self.kind not in SERVED_KINDS or task not in ("classification", "regression"):
            what = "a GAN" if task == "generation" else f"{self.kind or 'this'} data"
            raise RunError(
                f"{self.run_dir}: serving {what} ({task}) is not supported yet; deepfit serve takes tables, texts "
                "and images",
                hint=f"predict with: deepfit predict {self.run_dir} INPUT",
            )
        self._schema = _schema_of(self.predictor.preprocessor, self.kind)

    def metadata(self) -> dict[str, Any]:
        from deepfit import __version__
        from deepfit.runs import EVAL, MODEL, read_json

        meta = read_json(self.run_dir / MODEL / "meta.json")
        spec = self.predictor.spec
        evaluation = read_json(self.run_dir / EVAL) if (self.run_dir / EVAL).is_file() else {}
        return {
            "name": self.run_dir.name,
            "source": "run",
            "kind": self.kind,
            "task": spec.task,
            "target": self.predictor.target,
            "classes": [_native(c) for c in self.predictor.classes] if spec.task == "classification" else None,
            "architecture": meta["model"].get("name"),
            "metrics": {split: _scalars(values) for split, values in evaluation.items() if _scalars(values)},
            "deepfit_version": __version__,
        }

    def schema(self) -> dict[str, Any]:
        return self._schema

    def predict(self, records: Records) -> Records:
        predictor = self.predictor
        if self.kind == "image":
            frame = predictor.predict(self._pixels(records), source="the request")
        else:
            import pandas as pd

            columns = [f["name"] for f in self._schema["fields"]]
            frame = predictor.predict(pd.DataFrame.from_records(records, columns=columns), source="the request")
        return [{str(k): _native(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]

    def _pixels(self, records: Records) -> Any:
        """uint8 N x C x H x W at the trained size and mode, decoded from each record's bytes in memory."""
        import numpy as np

        from deepfit.data.image.decode import decode_bytes

        state = self.predictor.preprocessor.state
        images = []
        for i, record in enumerate(records):
            data = record.get(IMAGE_FIELD)
            if not isinstance(data, bytes | bytearray):
                raise DataError(f"image {i + 1} of the request is not encoded image bytes")
            pixels = decode_bytes(bytes(data), tuple(state["size"]), state["mode"])
            if isinstance(pixels, str):
                name = record.get("file") or f"image {i + 1}"
                raise DataError(f"{name} of the request: {pixels}", hint="send PNG, JPEG, BMP, GIF, TIFF or WebP")
            images.append(pixels)
        return np.stack(images)


class ExportBackend:
    """A folder made by ``deepfit export``, predicted by ``deepfit.runtime`` (numpy + onnxruntime)."""

    def __init__(self, folder: str | Path) -> None:
        try:
            from deepfit import runtime
        except ImportError as exc:
            raise RunError(
                f"serving the exported model {folder} needs deepfit's runtime: {exc}",
                hint="pip install 'deepfit[onnx,serve]'",
            ) from None
        self.folder = Path(folder)
        self.runtime = runtime.load(folder)
        self.kind = str(self.runtime.schema.get("kind") or self.runtime.metadata.get("kind") or "tabular")
        if not self.runtime.schema.get("fields"):
            raise RunError(
                f"{folder}: the exported {self.kind} model predicts from model-input arrays only (its runtime has no "
                "raw input), which deepfit serve does not take",
                hint="serve the run directory it was exported from: deepfit serve RUN_DIR",
            )

    def metadata(self) -> dict[str, Any]:
        return {"name": self.folder.name, "source": "export", **dict(self.runtime.metadata)}

    def schema(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.runtime.schema)}

    def predict(self, records: Records) -> Records:
        return [{str(k): _native(v) for k, v in row.items()} for row in self.runtime.predict(records)]


# ---------------------------------------------------------------- the input schema of a run
def _schema_of(pre: Any, kind: str) -> dict[str, Any]:
    """``{"kind", "fields": [{"name", "type", "required", "nullable", "description", ...}]}`` of a run's input.

    Types: number, boolean, category (a string or a number, compared as text), date (a string read with the
    training format), string (free text), base64 (an encoded image). Every field must be present; null is a
    missing value, imputed as in training.
    """
    state = pre.state
    if kind == "text":
        column = state["text_column"]
        return {"kind": kind, "fields": [_field(column, "string", "the text; null is an empty text")]}
    if kind == "image":
        height, width = state["size"]
        described = f"an encoded image (PNG, JPEG, ...), base64 in JSON; resized to {height}x{width} {state['mode']}"
        return {
            "kind": kind,
            "fields": [_field(IMAGE_FIELD, "base64", described, nullable=False)],
            "uploads": "multipart/form-data: one or more files, each an encoded image",
        }
    numeric, boolean = state["numeric"]["columns"], state["boolean"]["columns"]
    categorical = {**state.get("onehot", {}), **state.get("embedding", {})}
    fields = []
    for name in state["features"]:
        if name in numeric:
            fields.append(_field(name, "number", "a number; null is imputed"))
        elif name in boolean:
            fields.append(_field(name, "boolean", "true/false (also yes/no, 1/0); null is imputed"))
        elif name in categorical:
            levels = [str(c) for c in categorical[name]["categories"]]
            shown = ", ".join(levels[:12]) + (", ..." if len(levels) > 12 else "")
            described = f"a category: {shown}; another value counts as unseen, null as the most common"
            fields.append({**_field(name, "category", described), "categories": levels})
        elif name in state.get("date", {}):
            fmt = state["date"][name]["format"]
            fields.append({**_field(name, "date", f"a date ({fmt}); null is imputed"), "format": fmt})
        else:
            fields.append(_field(name, "string", "free text"))
    return {"kind": kind, "fields": fields}


def _field(name: str, type_: str, description: str, *, nullable: bool = True) -> dict[str, Any]:
    return {"name": str(name), "type": type_, "required": True, "nullable": nullable, "description": description}


def _scalars(values: Any) -> dict[str, Any]:
    """The numbers of a split's metrics (not the confusion matrix, per-class tables or baselines)."""
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _native(value: Any) -> Any:
    """A JSON value: NumPy scalars as Python's; NaN and infinities (not JSON) as null."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
