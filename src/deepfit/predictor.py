"""A trained model and its fitted preprocessing, saved in ``model/`` and loaded back as a Predictor.

A run directory alone is enough to predict on raw input: ``deepfit.load(run_dir).predict(frame)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepfit.config import CustomConfig, ModelConfig, saved_model_config
from deepfit.data.batches import TensorData
from deepfit.data.pipeline import load_preprocessor, read_input
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError, DataError, RunError
from deepfit.evaluation.evaluate import predict_outputs, probabilities, report_outputs
from deepfit.models.registry import build_model
from deepfit.runs import FORMAT, MODEL, check_format, read_json, require_run_dir, write_json
from deepfit.training.checkpoint import load_checkpoint, save_checkpoint, unwrap

WEIGHTS, PREPROCESSING, META = "weights.pt", "preprocessing.json", "meta.json"


def save_model(
    run_dir: str | Path, model: nn.Module, spec: DataSpec, pre: Any, config: ModelConfig, choice: str = ""
) -> None:
    """Weights first, meta.json last: a ``model/`` with meta.json is complete."""
    folder = Path(run_dir) / MODEL
    save_checkpoint(folder / WEIGHTS, {k: v.cpu() for k, v in unwrap(model).state_dict().items()})
    write_json(folder / PREPROCESSING, pre.to_dict())
    from deepfit import __version__

    meta = {
        "format": FORMAT,
        "deepfit_version": __version__,
        "model": config.model_dump(),  # its architecture's keys only
        "spec": spec.to_dict(),
        "choice": choice,
    }
    if isinstance(config, CustomConfig):  # the code that builds the model: loading the run checks it is unchanged
        from deepfit.code import code_digest

        meta["builder"] = code_digest(config.builder or "")
    write_json(folder / META, meta)


def load_weights(model: nn.Module, path: Path, where: str) -> nn.Module:
    """Weights into a freshly built model (``weights_only``); a missing, cut or foreign file is a RunError."""
    state = load_checkpoint(path, "model weights file")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise RunError(
            f"{path} does not fit the model described in {where}: {str(exc).splitlines()[0][:200]}",
            hint="the run directory's files come from different runs; retrain it",
        ) from None
    return model


def read_meta(folder: Path) -> dict[str, Any]:
    meta = read_json(folder / META)
    check_format(meta, folder / META)
    if not {"model", "spec"} <= set(meta):
        raise RunError(f"{folder / META} is damaged (no model or spec)", hint="retrain the run")
    return meta


class Predictor:
    """Predict and evaluate on raw input (a frame, or a file / folder the data kind can read)."""

    def __init__(self, model: nn.Module, spec: DataSpec, preprocessor: Any, batch_size: int = 1024):
        self.model, self.spec, self.preprocessor, self.batch_size = model.eval(), spec, preprocessor, batch_size

    @classmethod
    def load(cls, run_dir: str | Path, *, trust_code: bool = False) -> Predictor:
        """The run's model and preprocessing. A model built by the user's own code (``model.name: custom``)
        runs that code, so it loads only with ``trust_code=True``, and only if the file is unchanged."""
        folder = require_run_dir(run_dir) / MODEL
        meta = read_meta(folder)
        try:
            spec, config = DataSpec.from_dict(meta["spec"]), saved_model_config(meta["model"])
        except ConfigError:  # an architecture that is not registered in this process
            raise
        except Exception as exc:
            raise RunError(
                f"{folder / META} is damaged: {str(exc).splitlines()[0][:200]}", hint="retrain the run"
            ) from None
        if isinstance(config, CustomConfig):
            from deepfit.code import check_trusted

            check_trusted(meta.get("builder"), config.builder, trust_code, f"the run {run_dir}")
        model = load_weights(build_model(config, spec), folder / WEIGHTS, str(folder / META))
        return cls(model, spec, load_preprocessor(read_json(folder / PREPROCESSING)))

    @property
    def target(self) -> str:
        return self.preprocessor.state["target"]

    @property
    def classes(self) -> list[Any]:
        return self.preprocessor.classes

    def _read(self, data: Any, source: str | None) -> tuple[Any, str]:
        """A path the data kind reads, a DataFrame, a list of records (dicts) or a 2-D array of features."""
        if isinstance(data, str | Path):
            return read_input(self.preprocessor, data), source or str(data)
        if isinstance(data, pd.DataFrame) or not _is_tabular(self.preprocessor):
            return data, source or "the input"  # other kinds take their own forms (arrays of images, texts)
        return _as_frame(data, self.preprocessor), source or "the input"

    def _outputs(self, raw: Any, source: str) -> torch.Tensor:
        if len(raw) == 0:
            raise DataError(f"{source} holds no rows")
        inputs = self.preprocessor.transform(raw, source=source)
        return predict_outputs(self.model, inputs, self.batch_size)

    def predict_proba(self, data: Any, source: str | None = None) -> pd.DataFrame:
        """Class probabilities, one column per class name."""
        if self.spec.task != "classification":
            raise DataError("predict_proba is for classification models; this one does regression")
        raw, source = self._read(data, source)
        proba = probabilities(self._outputs(raw, source))
        return pd.DataFrame(proba, columns=[str(c) for c in self.classes], index=_index(raw, len(proba)))

    def predict(self, data: Any, source: str | None = None, *, keep_columns: list[str] | None = None) -> pd.DataFrame:
        """``prediction`` (a class name or a value) and, for classification, ``proba_<class>`` columns.

        Several regression outputs (a forecast horizon) are named by the preprocessing's ``output_names``;
        the preprocessing's ``prediction_columns(raw)`` (the image paths, say) come first when it has them,
        and before them ``keep_columns`` of the input (an id, say).
        """
        raw, source = self._read(data, source)
        kept = _kept(raw, keep_columns or [], source)
        result = self._predictions(raw, self._outputs(raw, source))
        columns = getattr(self.preprocessor, "prediction_columns", None)
        if callable(columns):
            result = pd.concat([columns(raw), result], axis=1)
        if kept is None:
            return result
        if len(kept) != len(result):
            raise DataError(f"keep_columns needs one prediction per input row; {source} gives {len(result)}")
        return pd.concat([kept.reset_index(drop=True), result.reset_index(drop=True)], axis=1).set_axis(result.index)

    def _predictions(self, raw: Any, outputs: torch.Tensor) -> pd.DataFrame:
        index = _index(raw, len(outputs))
        if self.spec.task == "classification":
            proba = probabilities(outputs)
            result = pd.DataFrame({"prediction": np.asarray(self.classes, dtype=object)[proba.argmax(1)]}, index=index)
            for i, name in enumerate(self.classes):
                result[f"proba_{name}"] = proba[:, i]
            return result
        values = self.preprocessor.inverse_target(outputs.cpu().numpy().astype(np.float64))
        values = values.reshape(len(values), -1)
        names = getattr(self.preprocessor, "output_names", None)
        if not names and values.shape[1] == 1:
            return pd.DataFrame({"prediction": values[:, 0]}, index=index)
        names = names or [f"prediction_{i + 1}" for i in range(values.shape[1])]
        return pd.DataFrame(values, columns=names, index=index)

    def evaluate(self, data: Any, source: str | None = None) -> dict[str, Any]:
        """All metrics of the task on labelled raw input (rows without a target are left out)."""
        raw, source = self._read(data, source)
        labelled = getattr(self.preprocessor, "labelled", None)
        if callable(labelled):  # the data kind knows where its labels are (a folder name, a column)
            tensors, unknown = labelled(raw, source=source)
        else:
            tensors, unknown = self._labelled_table(raw, source)
        outputs = predict_outputs(self.model, tensors.inputs, self.batch_size)
        report = report_outputs(outputs, tensors.target, self.spec, self.preprocessor, inputs=tensors.inputs)
        if unknown:
            report["rows_with_unknown_classes"] = unknown
        return report

    def _labelled_table(self, frame: pd.DataFrame, source: str) -> tuple[TensorData, int]:
        if self.target not in frame.columns:
            raise DataError(f"the target column '{self.target}' is not in {source}; evaluation needs labels")
        frame = frame[frame[self.target].notna()]
        target, known = self.preprocessor.transform_target(frame[self.target])
        if not known.any():
            raise DataError(f"no row of {source} has a class the model knows ({', '.join(map(str, self.classes))})")
        if len(frame) == 0:
            raise DataError(f"{source} holds no labelled rows")
        return TensorData(self.preprocessor.transform(frame[known], source=source), target), int((~known).sum())


def _kept(raw: Any, names: list[str], source: str) -> pd.DataFrame | None:
    if not names:
        return None
    from deepfit.errors import did_you_mean

    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"keep_columns needs a table; {source} is not one")
    for name in names:
        if name not in raw.columns:
            raise DataError(
                f"no column '{name}' to keep in {source}{did_you_mean(name, raw.columns)}",
                hint="its columns: " + ", ".join(map(str, raw.columns[:20])),
            )
    return raw[names]


def _is_tabular(preprocessor: Any) -> bool:
    from deepfit.data.tabular.preprocess import TabularPreprocessor

    return isinstance(preprocessor, TabularPreprocessor)


def _as_frame(data: Any, preprocessor: Any) -> pd.DataFrame:
    """Records (``[{"x1": 0.3, ...}]``, one dict) or a 2-D array whose columns are the features in order."""
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, list | tuple) and all(isinstance(row, dict) for row in data):
        return pd.DataFrame(list(data))
    features = (getattr(preprocessor, "state", None) or {}).get("features")
    if isinstance(data, np.ndarray | list | tuple) and features:
        array = np.asarray(data, dtype=object)
        array = array.reshape(1, -1) if array.ndim == 1 else array
        if array.ndim != 2 or array.shape[1] != len(features):
            raise DataError(
                f"an array to predict must have one column per feature ({len(features)}: "
                f"{', '.join(map(str, features[:8]))}{', ...' if len(features) > 8 else ''}); got shape {array.shape}",
                hint="or pass a DataFrame or a list of dicts with the column names",
            )
        return pd.DataFrame(array, columns=features)
    raise DataError(
        f"cannot predict on a {type(data).__name__}",
        hint="pass a DataFrame, a list of dicts (one per row), a 2-D array of the features in order, or a file path",
    )


def _index(raw: Any, n: int) -> Any:
    """The input rows' index when there is one prediction per row (not for a forecast per series, say)."""
    return raw.index if isinstance(raw, pd.DataFrame) and len(raw) == n else None
