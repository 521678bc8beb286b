"""The train section: optimizer, schedule, early stopping, diagnostics and the loop's settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
)

from deepfit.config.base import NamedSection, Section
from deepfit.training.registry import LOSSES, OPTIMIZERS, SCHEDULES

# A name checked against its registry (without importing what it names); the registry rides along in the
# metadata, so that an error can list the names it takes, those registered from Python included.
OptimizerName = Annotated[str, AfterValidator(OPTIMIZERS.check), OPTIMIZERS]
ScheduleName = Annotated[str, AfterValidator(SCHEDULES.check), SCHEDULES]
LossName = Annotated[str, AfterValidator(LOSSES.check), LOSSES]


# ---------------------------------------------------------------- train
class OptimizerConfig(NamedSection):
    name: OptimizerName = Field(
        "adamw", description="Optimizer: sgd, adam, adamw, adagrad, rmsprop or a registered one."
    )
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) betas.")
    eps: float = Field(1e-8, gt=0, description="Numerical stability term (adam, adamw, adagrad, rmsprop).")


class ScheduleConfig(NamedSection):
    name: ScheduleName = Field(
        "cosine",
        description="Learning-rate schedule: constant, step, exponential, cosine, onecycle, plateau, or registered.",
    )
    warmup_epochs: float = Field(0.0, ge=0, description="Linear warm-up from 0 over this many epochs.")
    step_size: int = Field(10, ge=1, description="Epochs between decays (step).")
    gamma: float | None = Field(None, gt=0, le=1, description="Decay factor; default 0.1 (step), 0.95 (exponential).")
    min_lr: float = Field(0.0, ge=0, description="Floor of the learning rate (cosine, plateau).")
    factor: float = Field(0.5, gt=0, lt=1, description="Plateau: multiply the rate by this on a plateau.")
    patience: int = Field(3, ge=0, description="Plateau: epochs without improvement before decaying.")
    max_lr: float | None = Field(None, gt=0, description="One-cycle peak; default train.lr.")


class EarlyStoppingConfig(Section):
    enabled: bool = Field(True, description="Stop when the monitored validation metric stops improving.")
    monitor: str = Field("loss", description="Validation metric to monitor (loss, accuracy, f1_macro, rmse, ...).")
    patience: int = Field(10, ge=1, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change counted as an improvement.")
    restore_best: bool = Field(True, description="Restore the best epoch's weights at the end.")

    @field_validator("monitor")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from deepfit.evaluation.registry import metric_info

        return metric_info(value.removeprefix("val_")).name


class DiagnosticsConfig(Section):
    enabled: bool = Field(True, description="Watch training for silent failures and explain them (diagnostics.json).")
    every_n_steps: int = Field(
        50, ge=1, description="Sample gradient norms every this many optimizer steps (and at the first step)."
    )
    track_updates: bool = Field(
        True, description="Also measure each layer's update/weight ratio (copies the weights for one step per sample)."
    )
    vanishing_ratio: float = Field(
        1e3, gt=1, description="Vanishing: a layer's gradient norm this many times below the output layer's."
    )
    spike_factor: float = Field(
        10.0, gt=1, description="Exploding: the gradient norm this many times the running median of earlier samples."
    )
    divergence_factor: float = Field(
        3.0, gt=1, description="Divergence: training loss this many times its first-epoch value."
    )
    rising_epochs: int = Field(
        3, ge=2, description="Divergence: training loss rose this many epochs in a row and doubled from its lowest."
    )
    patience: int = Field(
        5, ge=2, description="Epochs a trend must last before overfitting or underfitting is reported."
    )
    overfit_rise: float = Field(
        0.1, gt=0, description="Overfitting: validation loss (mean over `patience` epochs) up this much from its best."
    )
    underfit_ratio: float = Field(
        0.9, gt=0, le=1, description="Underfitting: training loss still at least this fraction of its first value."
    )
    dead_fraction: float = Field(
        0.5, gt=0, le=1, description="Dead ReLUs: report a layer with more than this fraction of units always zero."
    )


class FineTuneConfig(Section):
    """fastai's ``fine_tune`` shape: the head alone first, then every layer at rates rising towards the head."""

    freeze_epochs: int | None = Field(
        None,
        ge=0,
        description="Epochs train.freeze (the body, when unset) holds before every layer trains; none: train.freeze "
        "holds for the whole run (fastai's fine_tune: 1).",
    )
    lr_mult: float = Field(
        1.0,
        ge=1,
        description="Discriminative rates: the first layer group learns at lr / lr_mult, the head at lr, the groups "
        "between at rates evenly spaced on a log scale (fastai's fine_tune: 100); 1: one rate.",
    )
    groups: int = Field(
        3, ge=2, description="Layer groups for lr_mult: the head, and the body's blocks in order split into the rest."
    )


Freeze = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | Literal["body"]


class TrainConfig(Section):
    epochs: int = Field(100, ge=1, description="Maximum number of epochs.")
    batch_size: int = Field(
        64,
        ge=1,
        description="Samples per forward/backward pass (a micro-batch); with several processes the global batch, "
        "split between them.",
    )
    accumulate: int = Field(
        1, ge=1, description="Micro-batches per optimizer step (gradient accumulation); effective batch = product."
    )
    lr: Annotated[float, Field(gt=0)] | Literal["auto"] = Field(
        1e-3, description="Learning rate, or auto: run the learning-rate range test first (deepfit lr-find)."
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="bf16: autocast on CPU and GPU; fp16: autocast with gradient scaling (GPU only)."
    )
    compile: bool = Field(False, description="Compile the model with torch.compile (checkpoints stay unwrapped).")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    weight_decay: float = Field(1e-4, ge=0, description="L2 penalty (decoupled for adamw).")
    l1: float = Field(0.0, ge=0, description="L1 penalty on weights, added to the loss.")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    loss: LossName = Field(
        "auto",
        description="cross_entropy, mse, mae, huber or a registered loss; auto: cross_entropy for classification, "
        "mse for regression.",
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing (cross_entropy).")
    class_weights: Literal["none", "balanced"] = Field("none", description="Weight classes inversely to frequency.")
    huber_delta: float = Field(1.0, gt=0, description="Huber loss threshold.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    clip_grad_norm: float | None = Field(None, gt=0, description="Clip the global gradient norm to this value.")
    clip_grad_value: float | None = Field(None, gt=0, description="Clip each gradient element to ±this value.")
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: cuda when available.")
    strategy: Literal["auto", "ddp", "fsdp"] = Field(
        "auto",
        description="Several processes (torchrun, --devices N): ddp copies the model to each process; fsdp shards "
        "its weights (FSDP2 fully_shard) for models too large for one device; auto: ddp. One process ignores it.",
    )
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    freeze: Freeze | None = Field(
        None,
        description="Parameters that do not train: body (all but the head), or name patterns ('features.0.*', "
        "'embedding.*'); their batch norm stays in inference mode. See train.fine_tune for when they thaw.",
    )
    fine_tune: FineTuneConfig = Field(default_factory=FineTuneConfig)
