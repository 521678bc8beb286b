"""The rows an export is checked on (at most ``MAX_ROWS``), and the runtime's check against deepfit's own
prediction path."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepfit.errors import DeepfitError, RunError
from deepfit.export.parity import MAX_ROWS

FEATURE_ATOL = 1e-5  # float32 features: the runtime's NumPy arithmetic equals the pandas path to ~1e-7


RAW_COLUMN = {"image": "path_column", "text": "text_column"}  # what the runtime reads of a kind's raw table


def held_out(run: Path, predictor: Any, data: Any) -> tuple[tuple[torch.Tensor, ...], pd.DataFrame | None]:
    """Model inputs of held-out rows, and the raw rows when the runtime can be checked on them."""
    from deepfit.data.pipeline import read_input

    pre = predictor.preprocessor
    kind = str(pre.to_dict().get("kind"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run reported its data when it trained
        if data is not None:
            raw = pd.DataFrame(data) if isinstance(data, list) else data
            raw = read_input(pre, raw) if isinstance(raw, str | Path) else raw
            raw = raw.head(MAX_ROWS) if isinstance(raw, pd.DataFrame) else raw
            return tuple(pre.transform(raw, source="the export rows")), raw if _checkable(pre, kind, raw) else None
        prepared = _prepare_again(run)
        split = "test" if "test" in prepared.tensors else "validation"
        if split not in prepared.tensors:
            raise RunError(f"{run}: its data has no held-out rows to check the export on", hint="pass --data FILE")
        raw = prepared.frames[split].head(MAX_ROWS)
        if _checkable(pre, kind, raw):  # the saved preprocessor on the raw rows (image files, texts)
            return tuple(pre.transform(raw, source=f"the {split} rows")), raw
        return tuple(t[:MAX_ROWS] for t in prepared.tensors[split].inputs), None


def _checkable(pre: Any, kind: str, raw: Any) -> bool:
    """Raw rows the runtime reads too: a table's, or a table of image paths or of texts."""
    if not isinstance(raw, pd.DataFrame):
        return False
    return kind == "tabular" or (kind in RAW_COLUMN and pre.state[RAW_COLUMN[kind]] in raw.columns)


def _prepare_again(run: Path) -> Any:
    """The run's data prepared as in training (its config.yaml: same source, seed and split)."""
    import yaml

    from deepfit.config.loading import load_saved_config
    from deepfit.data.pipeline import prepare
    from deepfit.runs import CONFIG

    try:
        raw = yaml.safe_load((run / CONFIG).read_text(encoding="utf-8"))
        config = load_saved_config(raw).with_absolute_paths()
        if not config.data.source:
            raise RunError("the run was trained on data passed from Python (no data.source)")
        return prepare(config)
    except (DeepfitError, OSError) as exc:
        raise RunError(
            f"cannot read the run's held-out rows again to check the export: {str(exc).splitlines()[0]}",
            hint="pass rows to check on: deepfit export RUN_DIR --data FILE (raw rows, as deepfit predict takes)",
        ) from None


def input_arrays(inputs: tuple[torch.Tensor, ...]) -> list[dict[str, Any]]:
    """The model's inputs as the schema states them: dtype and shape, the batch dimension first (null)."""
    dtypes = {torch.int64: "int64", torch.float32: "float32"}
    return [
        {"index": i, "dtype": dtypes.get(t.dtype, str(t.dtype)), "shape": [None, *t.shape[1:]]}
        for i, t in enumerate(inputs)
    ]


def run_metrics(run: Path) -> dict[str, Any]:
    """The scalar metrics of ``eval.json`` per split (per-class tables left out)."""
    from deepfit.runs import EVAL, read_json

    path = run / EVAL
    if not path.is_file():
        return {}
    report = read_json(path)
    return {
        split: {k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        for split, values in report.items()
        if isinstance(values, dict)
    }


def records_of(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows as JSON gives them: Python numbers and strings, None where missing, dates as ISO text."""

    def plain(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, np.generic):
            value = value.item()
            return None if isinstance(value, float) and math.isnan(value) else value
        return value

    return [{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in frame[columns].itertuples(index=False)]


def runtime_parity(folder: Path, predictor: Any, raw: pd.DataFrame, atol: float, rtol: float) -> dict[str, Any]:
    """The runtime in ``folder`` against ``Predictor`` on the same raw rows: features, then predictions."""
    from deepfit import runtime

    pre = predictor.preprocessor
    rt = runtime.load(folder)
    kind = pre.to_dict().get("kind")
    if kind == "image":
        records = [{"image": Path(p).read_bytes()} for p in raw[pre.path_column]]
    else:
        records = records_of(raw, [pre.state["text_column"]] if kind == "text" else list(pre.state["features"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = rt.features(records)
        theirs = [t.numpy() for t in pre.transform(raw)]
        predicted = rt.predict(records)
        expected = predictor.predict(raw)
    expected = expected[list(predicted[0])]  # without the columns put before predictions (an image's path)
    feature_diff = max(
        float(np.abs(a.astype(np.float64) - b).max(initial=0.0)) for a, b in zip(mine, theirs, strict=True)
    )
    if feature_diff > FEATURE_ATOL or [a.shape for a in mine] != [b.shape for b in theirs]:
        raise RunError(
            f"the runtime's preprocessing differs from deepfit's on the held-out rows by {feature_diff:.3g}",
            hint="report it with the run's preprocessing.json; export with --format pt2 meanwhile",
        )
    numeric = [c for c in expected.columns if c != "prediction" or predictor.spec.task != "classification"]
    got = pd.DataFrame(predicted)
    diffs = np.abs(got[numeric].to_numpy(dtype=float) - expected[numeric].to_numpy(dtype=float))
    scale = np.abs(expected[numeric].to_numpy(dtype=float))
    same = float((got["prediction"].astype(str).to_numpy() == expected["prediction"].astype(str).to_numpy()).mean())
    result = {
        "rows": len(records),
        "max_feature_diff": feature_diff,
        "max_prediction_diff": float(diffs.max(initial=0.0)),
        "same_predictions": same,
        "passed": bool(np.all(diffs <= atol + rtol * scale)),
    }
    if not result["passed"]:
        raise RunError(
            f"the runtime's predictions differ from deepfit predict by {result['max_prediction_diff']:.3g}",
            hint="report it with the run's preprocessing.json; export with --format pt2 meanwhile",
        )
    return result
