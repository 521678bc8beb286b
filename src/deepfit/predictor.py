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

from deepfit.config import ModelConfig
from deepfit.data.batches import TensorData
from deepfit.data.pipeline import load_preprocessor, read_input
from deepfit.data.spec import DataSpec
from deepfit.errors import DataError
from deepfit.evaluation.evaluate import predict_outputs, probabilities, report_outputs
from deepfit.models.registry import get_builder
from deepfit.runs import MODEL, read_json, require_run_dir, write_json
from deepfit.training.checkpoint import save_checkpoint, unwrap

WEIGHTS, PREPROCESSING, META = "weights.pt", "preprocessing.json", "meta.json"


def build_model(config: ModelConfig, spec: DataSpec) -> nn.Module:
    return get_builder(config.name)(spec, config)


def save_model(
    run_dir: str | Path, model: nn.Module, spec: DataSpec, pre: Any, config: ModelConfig, choice: str = ""
) -> None:
    """Weights first, meta.json last: a ``model/`` with meta.json is complete."""
    folder = Path(run_dir) / MODEL
    save_checkpoint(folder / WEIGHTS, {k: v.cpu() for k, v in unwrap(model).state_dict().items()})
    write_json(folder / PREPROCESSING, pre.to_dict())
    from deepfit import __version__

    meta = {"deepfit_version": __version__, "model": config.model_dump(), "spec": spec.to_dict(), "choice": choice}
    write_json(folder / META, meta)


class Predictor:
    """Predict and evaluate on raw input (a frame, or a file / folder the data kind can read)."""

    def __init__(self, model: nn.Module, spec: DataSpec, preprocessor: Any, batch_size: int = 1024):
        self.model, self.spec, self.preprocessor, self.batch_size = model.eval(), spec, preprocessor, batch_size

    @classmethod
    def load(cls, run_dir: str | Path) -> Predictor:
        folder = require_run_dir(run_dir) / MODEL
        meta = read_json(folder / META)
        spec = DataSpec.from_dict(meta["spec"])
        model = build_model(ModelConfig(**meta["model"]), spec)
        model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        return cls(model, spec, load_preprocessor(read_json(folder / PREPROCESSING)))

    @property
    def target(self) -> str:
        return self.preprocessor.state["target"]

    @property
    def classes(self) -> list[Any]:
        return self.preprocessor.classes

    def _read(self, data: Any, source: str | None) -> tuple[Any, str]:
        if isinstance(data, str | Path):
            return read_input(self.preprocessor, data), source or str(data)
        return data, source or "the input"

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

    def predict(self, data: Any, source: str | None = None) -> pd.DataFrame:
        """``prediction`` (a class name or a value) and, for classification, ``proba_<class>`` columns.

        Several regression outputs (a forecast horizon) are named by the preprocessing's ``output_names``;
        the preprocessing's ``prediction_columns(raw)`` (the image paths, say) come first when it has them.
        """
        raw, source = self._read(data, source)
        result = self._predictions(raw, self._outputs(raw, source))
        columns = getattr(self.preprocessor, "prediction_columns", None)
        return pd.concat([columns(raw), result], axis=1) if callable(columns) else result

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


def _index(raw: Any, n: int) -> Any:
    """The input rows' index when there is one prediction per row (not for a forecast per series, say)."""
    return raw.index if isinstance(raw, pd.DataFrame) and len(raw) == n else None
