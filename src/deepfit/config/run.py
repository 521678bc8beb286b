"""The eval, output and tune sections, and the whole ``Config`` with its paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    SerializeAsAny,
    field_validator,
)

from deepfit.config.architectures import AutoModelConfig
from deepfit.config.base import NamedSection, Section
from deepfit.config.data import DataConfig
from deepfit.config.model import ModelConfig
from deepfit.config.train import TrainConfig


# ---------------------------------------------------------------- eval / output
class EvalConfig(Section):
    batch_size: int = Field(1024, ge=1, description="Batch size for evaluation and prediction.")
    metrics: list[str] | None = Field(None, description="Metrics in the summary table; default by task.")
    baselines: bool = Field(
        True,
        description="Also fit scikit-learn baselines on the training split (tables: linear model and "
        "gradient-boosted trees; text: tf-idf + linear model) and score them beside the network.",
    )

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        from deepfit.evaluation.registry import metric_info

        for name in value or []:
            metric_info(name)  # raises ValueError naming the known metrics
        return value


class OutputConfig(Section):
    dir: str = Field("runs", description="Folder for run directories (relative to the working directory).")
    name: str | None = Field(None, description="Run name; default: the config file's name.")
    checkpoint_every: int = Field(1, ge=1, description="Epochs between checkpoints.")
    checkpoint_seconds: float = Field(
        30.0,
        ge=0,
        description="At most one periodic checkpoint per this many seconds; the last epoch, Ctrl-C and SIGTERM "
        "always save one (0: every checkpoint_every epochs).",
    )
    report: bool = Field(True, description="Write report.html at the end of a run (`deepfit report` rebuilds it).")
    loggers: list[Literal["tensorboard", "mlflow"]] = Field(
        default_factory=list, description="Extra experiment loggers (each needs its extra: deepfit[tensorboard])."
    )


# ---------------------------------------------------------------- tune
class SamplerConfig(NamedSection):
    name: Literal["grid", "random", "bayesian", "cmaes"] = Field(
        "bayesian", description="grid, random, bayesian (TPE) or cmaes (float and int ranges only)."
    )
    startup_trials: int | None = Field(
        None, ge=0, description="Random trials before bayesian / cmaes model the results; default Optuna's."
    )


class PrunerConfig(NamedSection):
    name: Literal["none", "median", "hyperband"] = Field(
        "median", description="Stop unpromising trials early: median stopping rule, hyperband, or none."
    )
    startup_trials: int = Field(5, ge=0, description="Median: completed trials before any trial is pruned.")
    warmup_epochs: int = Field(1, ge=0, description="Epochs every trial runs before it can be pruned.")


class TuneConfig(Section):
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Dotted config key -> {float: [lo, hi], log: true} | {int: [lo, hi], step: 16} | {choice: [...]}.",
    )
    metric: str = Field(
        "auto", description="Validation metric to optimise; auto: accuracy (classification), rmse (regression)."
    )
    direction: Literal["auto", "maximize", "minimize"] = Field("auto", description="auto: the metric's direction.")
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    pruner: PrunerConfig = Field(default_factory=PrunerConfig)
    trials: int | None = Field(
        None, ge=1, description="Trials in the study in all (a rerun tops it up); default 20, or the grid's size."
    )
    timeout: float | None = Field(
        None, gt=0, description="Start no trial after this long: seconds, or '90s', '10m', '2h'."
    )
    seed: int | None = Field(0, description="Seed of the sampler: the same seed gives the same trials (one worker).")

    @field_validator("space")
    @classmethod
    def _valid_space(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from deepfit.config.space import parse_space

        parse_space(value)  # raises ValueError naming each bad key
        return value

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from deepfit.evaluation.registry import metric_info

        return value if value == "auto" else metric_info(value.removeprefix("val_")).name

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        """``"90s"``, ``"10m"``, ``"1.5h"`` -> seconds; numbers pass through."""
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
        try:
            return float(text[:-1] if scale else text) * (scale or 1)
        except ValueError:
            raise ValueError(f"expected seconds or a duration such as '90s', '10m', '2h'; got {value!r}") from None


class Config(Section):
    data: DataConfig = Field(default_factory=DataConfig)
    # the class of the architecture model.name names (dumped as that class: its own keys only)
    model: SerializeAsAny[ModelConfig] = Field(default_factory=AutoModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)

    # Folder that relative data paths are resolved against (the config file's folder).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def resolve_path(self, path: str) -> Path:
        """A data path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self._base_dir / p)

    def with_absolute_paths(self) -> Config:
        """A copy whose data paths are absolute: a run's saved config works from any folder."""
        data = self.data
        updates = {
            key: str(self.resolve_path(value))
            for key in ("source", "validation_source", "test_source")
            if (value := getattr(data, key)) and not value.startswith("builtin:")
        }
        copy = self.model_copy(update={"data": data.model_copy(update=updates)})
        if (builder := getattr(self.model, "builder", None)) is not None:  # model.builder: my_models.py:build
            copy.model = self.model.model_copy(update={"builder": self._absolute_code(builder)})
        if self.model.init_from:  # a run directory: relative to the working directory, like output.dir and --run-dir
            source = Path(self.model.init_from).expanduser().resolve()
            copy.model = copy.model.model_copy(update={"init_from": str(source)})
        # code named as a registry name (train.optimizer: opt.py:make); only a changed value is copied, so the
        # keys a user left unset stay unset (architectures' training defaults fill those)
        train, updates = self.train, {}
        for section in ("optimizer", "schedule"):
            named = getattr(train, section)
            if (name := self._absolute_code(named.name)) != named.name:
                updates[section] = named.model_copy(update={"name": name})
        if (loss := self._absolute_code(train.loss)) != train.loss:
            updates["loss"] = loss
        if updates:
            copy.train = train.model_copy(update=updates)
        copy._base_dir = self._base_dir
        return copy

    def code_names(self) -> dict[str, str]:
        """The config keys naming code (``"file.py:function"``, ``"pkg.module:function"``) and their values."""
        from deepfit.code import is_code_name

        named: dict[str, Any] = {
            "model.builder": getattr(self.model, "builder", None),
            "train.optimizer.name": self.train.optimizer.name,
            "train.schedule.name": self.train.schedule.name,
            "train.loss": self.train.loss,
        }
        return {key: str(value) for key, value in named.items() if is_code_name(value)}

    def _absolute_code(self, name: str) -> str:
        """``file.py:function`` with the file beside the config file made absolute; other names unchanged."""
        file, _, function = name.rpartition(":")
        return f"{self.resolve_path(file)}:{function}" if file.endswith(".py") else name

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)
