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
from deepfit.data.preprocess import TabularPreprocessor
from deepfit.data.spec import DataSpec
from deepfit.errors import DataError
from deepfit.evaluation.evaluate import full_report, predict_outputs, probabilities
from deepfit.models.registry import get_builder
from deepfit.runs import MODEL, read_json, require_run_dir, write_json
from deepfit.training.checkpoint import save_checkpoint, unwrap

WEIGHTS, PREPROCESSING, META = "weights.pt", "preprocessing.json", "meta.json"


def build_model(config: ModelConfig, spec: DataSpec) -> nn.Module:
    return get_builder(config.name)(spec, config)


def save_model(
    run_dir: str | Path, model: nn.Module, spec: DataSpec, pre: TabularPreprocessor, config: ModelConfig
) -> None:
    """Weights first, meta.json last: a ``model/`` with meta.json is complete."""
    folder = Path(run_dir) / MODEL
    save_checkpoint(folder / WEIGHTS, {k: v.cpu() for k, v in unwrap(model).state_dict().items()})
    write_json(folder / PREPROCESSING, pre.to_dict())
    from deepfit import __version__

    write_json(folder / META, {"deepfit_version": __version__, "model": config.model_dump(), "spec": spec.to_dict()})


class Predictor:
    """Predict and evaluate on raw frames with the saved preprocessing."""

    def __init__(self, model: nn.Module, spec: DataSpec, preprocessor: TabularPreprocessor, batch_size: int = 1024):
        self.model, self.spec, self.preprocessor, self.batch_size = (
            model.eval(),
            spec,
            preprocessor,
            batch_size,
        )

    @classmethod
    def load(cls, run_dir: str | Path) -> Predictor:
        folder = require_run_dir(run_dir) / MODEL
        meta = read_json(folder / META)
        spec = DataSpec.from_dict(meta["spec"])
        model = build_model(ModelConfig(**meta["model"]), spec)
        model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        return cls(model, spec, TabularPreprocessor.from_dict(read_json(folder / PREPROCESSING)))

    @property
    def target(self) -> str:
        return self.preprocessor.state["target"]

    @property
    def classes(self) -> list[Any]:
        return self.preprocessor.classes

    def _outputs(self, frame: pd.DataFrame, source: str) -> torch.Tensor:
        if frame.empty:
            raise DataError(f"{source} holds no rows")
        inputs = self.preprocessor.transform(frame, source=source)
        return predict_outputs(self.model, inputs, self.batch_size)

    def predict_proba(self, frame: pd.DataFrame, source: str = "the input") -> pd.DataFrame:
        """Class probabilities, one column per class name."""
        if self.spec.task != "classification":
            raise DataError("predict_proba is for classification models; this one does regression")
        proba = probabilities(self._outputs(frame, source))
        return pd.DataFrame(proba, columns=[str(c) for c in self.classes], index=frame.index)

    def predict(self, frame: pd.DataFrame, source: str = "the input") -> pd.DataFrame:
        """``prediction`` (a class name or a value) and, for classification, ``proba_<class>`` columns."""
        outputs = self._outputs(frame, source)
        if self.spec.task == "classification":
            proba = probabilities(outputs)
            result = pd.DataFrame(
                {"prediction": np.asarray(self.classes, dtype=object)[proba.argmax(1)]}, index=frame.index
            )
            for i, name in enumerate(self.classes):
                result[f"proba_{name}"] = proba[:, i]
            return result
        values = self.preprocessor.inverse_target(outputs.cpu().numpy().astype(np.float64))
        return pd.DataFrame({"prediction": values[:, 0]}, index=frame.index)

    def evaluate(self, frame: pd.DataFrame, source: str = "the data") -> dict[str, Any]:
        """All metrics of the task on a labelled frame (rows without a target are left out)."""
        if self.target not in frame.columns:
            raise DataError(f"the target column '{self.target}' is not in {source}; evaluation needs labels")
        frame = frame[frame[self.target].notna()]
        target, known = self.preprocessor.transform_target(frame[self.target])
        if not known.any():
            raise DataError(f"no row of {source} has a class the model knows ({', '.join(map(str, self.classes))})")
        outputs = self._outputs(frame[known], source)
        s = self.preprocessor.state
        report = full_report(
            self.spec.task,
            outputs,
            target,
            self.classes,
            (s.get("target_mean", 0.0), s.get("target_std", 1.0)),
        )
        if not known.all():
            report["rows_with_unknown_classes"] = int((~known).sum())
        return report
