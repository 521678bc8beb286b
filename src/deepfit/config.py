"""The typed config: six sections (data, model, train, eval, output, tune), validated at the edge.

Every field has a best-practice default and a description. Unknown keys are errors with a
"did you mean"; every error is reported at once with the file, the YAML line and the dotted key.
Loading never imports torch, so ``deepfit config show`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from deepfit.errors import ConfigError, did_you_mean


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _name_or_dict(value: Any) -> Any:
    """Identifiers accept a string (``optimizer: sgd``) or a dict (``optimizer: {name: sgd, momentum: 0.8}``)."""
    return {"name": value} if isinstance(value, str) else value


# ---------------------------------------------------------------- data
class SplitConfig(Section):
    train: float = Field(0.7, gt=0, le=1, description="Fraction of rows for training.")
    validation: float = Field(0.15, ge=0, lt=1, description="Fraction for validation (early stopping, selection).")
    test: float = Field(0.15, ge=0, lt=1, description="Fraction for the test set, evaluated once at the end.")
    stratify: bool = Field(True, description="Keep class proportions in every split (classification only).")
    group_column: str | None = Field(None, description="Rows sharing this column's value stay in one split.")
    order_column: str | None = Field(
        None, description="Split by this column's order (time): train first, then validation, then test."
    )
    seed: int | None = Field(None, description="Seed of the split; defaults to train.seed.")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must sum to 1; got train={self.train} + validation={self.validation} "
                f"+ test={self.test} = {total:g}"
            )
        if self.group_column and self.order_column:
            raise ValueError("set group_column or order_column, not both")
        return self


class CleanConfig(Section):
    drop_duplicates: bool = Field(True, description="Remove exact duplicate rows.")
    missing: Literal["impute", "drop"] = Field(
        "impute", description="Missing feature values: impute (fitted on train) or drop the rows."
    )
    numeric_impute: Literal["median", "mean"] = Field("median", description="Statistic for numeric imputation.")
    conflicts: Literal["keep", "drop", "majority"] = Field(
        "majority",
        description="Identical features, different targets: keep all rows, drop them all, or keep the majority label.",
    )
    drop_constant: bool = Field(True, description="Drop feature columns with a single value.")
    drop_id_columns: bool = Field(True, description="Drop identifier-like columns (a distinct value on every row).")


class PreprocessConfig(Section):
    scaling: Literal["standard", "minmax", "none"] = Field("standard", description="Numeric feature scaling.")
    categorical: Literal["auto", "onehot", "embedding"] = Field(
        "auto",
        description="Categorical encoding; auto: one-hot up to max_onehot categories, embedding above.",
    )
    max_onehot: int = Field(16, ge=2, description="Largest cardinality one-hot encoded when categorical is auto.")
    min_frequency: int = Field(1, ge=1, description="Categories seen fewer times in train map to 'unknown'.")
    target_scaling: bool = Field(True, description="Standardise a regression target (predictions are unscaled).")


class ImageConfig(Section):
    path_column: str = Field("path", description="Images from a CSV: the column of image paths (relative to the CSV).")
    size: tuple[int, int] | None = Field(
        None, description="Resize every image to [height, width]; default: the most common size, at most 64 a side."
    )
    mode: Literal["auto", "grayscale", "rgb"] = Field(
        "auto", description="Channels: grayscale (1) or rgb (3); auto: rgb when any image is in colour."
    )
    on_error: Literal["skip", "error"] = Field(
        "skip", description="A corrupt or unreadable image: skip it (named in the data report) or stop the run."
    )
    cache: bool = Field(True, description="Keep decoded images in a .npz cache so that reruns skip decoding.")
    cache_dir: str | None = Field(
        None, description="Folder of the decoded-image cache; default $XDG_CACHE_HOME/deepfit/images (~/.cache/...)."
    )

    @field_validator("size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and min(value) < 1:
            raise ValueError(f"image size must be [height, width] in pixels, both positive; got {list(value)}")
        return value


class AugmentConfig(Section):
    """Image augmentation of training batches, on the training device; all off unless set (docs/images.md)."""

    flip: bool = Field(False, description="Images: flip half the training images left-right (not for digits, text).")
    crop: int = Field(0, ge=0, description="Images: pad by this many pixels, then crop back at a random place.")
    rotate: float = Field(0.0, ge=0, le=180, description="Images: random rotation of up to ± this many degrees.")
    translate: float = Field(0.0, ge=0, lt=1, description="Images: random shift of up to ± this fraction of the size.")
    scale: float = Field(0.0, ge=0, lt=1, description="Images: random zoom of up to ± this fraction.")
    brightness: float = Field(0.0, ge=0, lt=1, description="Images: multiply brightness by 1 ± up to this much.")
    contrast: float = Field(0.0, ge=0, lt=1, description="Images: scale contrast by 1 ± up to this much.")
    noise: float = Field(0.0, ge=0, description="Images: Gaussian noise of this std (1.0 = the full pixel range).")
    cutout: int = Field(0, ge=0, description="Images: blank one random square of this side in pixels.")
    mixup: float = Field(
        0.0, ge=0, description="Mix pairs of training images and their labels, Beta(alpha, alpha); 0.2 is typical."
    )


ColumnKind = Literal["numeric", "categorical", "boolean"]


class TextConfig(Section):
    text_column: str | None = Field(
        None, description="Column holding the text (data.kind text); unset: the longest free-text column."
    )
    tokenizer: Literal["bpe", "wordpiece", "word"] = Field(
        "bpe", description="Tokenizer fitted on the training texts: bpe, wordpiece (subwords) or word (whole words)."
    )
    vocab_size: int = Field(8000, ge=8, description="Largest vocabulary, special tokens [PAD] [UNK] [CLS] included.")
    min_frequency: int = Field(2, ge=1, description="Tokens (words, merges) seen fewer times in train are not learned.")
    lowercase: bool = Field(True, description="Lowercase texts before tokenizing.")
    strip_accents: bool = Field(True, description="Remove accents before tokenizing (café → cafe).")
    max_length: int = Field(
        128, ge=2, description="Tokens per text, [CLS] included; longer texts are cut at the end, shorter ones padded."
    )
    token_dropout: float = Field(
        0.0, ge=0, lt=1, description="Training only: replace this fraction of tokens by [UNK] in each batch."
    )


class TimeSeriesConfig(Section):
    """Forecasting (data.kind timeseries): a table of one or more series cut into windows (docs/sequences.md)."""

    time_column: str | None = Field(
        None,
        description="Timestamps or numbers; unset: a column named time, date, timestamp or ds, else the row order.",
    )
    value_columns: list[str] | None = Field(
        None, description="Columns the model reads; default: every numeric column but the time and series columns."
    )
    series_column: str | None = Field(None, description="Long format: the column naming which series a row belongs to.")
    target_columns: list[str] | None = Field(None, description="Columns to forecast; default: all value columns.")
    lookback: int = Field(24, ge=1, description="Past points the model sees for each forecast.")
    horizon: int = Field(1, ge=1, description="Future points forecast at once (t+1 .. t+horizon).")
    stride: int = Field(1, ge=1, description="Steps between the starts of consecutive windows.")
    season: int | None = Field(
        None, ge=1, description="Season length of the seasonal-naive baseline; unset: from the autocorrelation peak."
    )
    missing: Literal["ffill", "interpolate", "drop"] = Field(
        "ffill", description="Missing timestamps and values: forward-fill, interpolate linearly, or drop the rows."
    )


class SequenceConfig(Section):
    """Sequence classification / regression (data.kind sequence): .npz (samples, steps, features) or a long table."""

    id_column: str | None = Field(None, description="Long table: the column naming the sequence each row belongs to.")
    order_column: str | None = Field(
        None, description="Long table: the order of steps in a sequence; default: file order."
    )
    max_length: int | None = Field(
        None,
        ge=1,
        description="Steps per sequence: shorter ones padded, longer ones keep their last steps; default: the longest.",
    )


class DataConfig(Section):
    source: str | None = Field(
        None, description="builtin:<name>, or a .csv/.parquet/.npz path relative to the config file."
    )
    target: str | None = Field(None, description="Label column (builtin datasets: 'target').")
    features: list[str] | None = Field(None, description="Feature columns; default: every other column.")
    drop_columns: list[str] = Field(default_factory=list, description="Columns never used as features.")
    column_types: dict[str, ColumnKind] = Field(default_factory=dict, description="Override inferred column kinds.")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="Inferred from the target when auto."
    )
    kind: Literal["auto", "tabular", "image", "sequence", "timeseries", "text"] = Field(
        "auto", description="What the data is; auto: from the source (an image folder, a 3-D .npz) and sections set."
    )
    validation_source: str | None = Field(None, description="A separate validation file (skips the split).")
    test_source: str | None = Field(None, description="A separate test file (skips the split).")
    split: SplitConfig = Field(default_factory=SplitConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    text: TextConfig = Field(default_factory=TextConfig)
    image: ImageConfig = Field(default_factory=ImageConfig)
    timeseries: TimeSeriesConfig = Field(default_factory=TimeSeriesConfig)
    sequence: SequenceConfig = Field(default_factory=SequenceConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


# ---------------------------------------------------------------- model
class ModelConfig(Section):
    name: str = Field(
        "auto", description="Architecture from the registry (deepfit.models.registry); auto: chosen from the data."
    )
    builder: str | None = Field(
        None,
        description="model.name custom: 'package.module:function' or 'file.py:function' (beside the config file) "
        "returning an nn.Module from (spec[, config]).",
    )
    max_params: int | None = Field(None, ge=1, description="model.name auto: a budget of trainable parameters.")
    hidden: list[int] = Field(default_factory=lambda: [256, 128], description="Hidden layer sizes.")
    activation: Literal["relu", "leaky_relu", "gelu", "tanh", "sigmoid"] = Field("relu", description="Activation.")
    dropout: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Dropout after each hidden layer (rnn, lstm, gru: between layers and before the head).",
    )
    batch_norm: bool = Field(False, description="Batch normalisation after each hidden linear layer.")
    init: Literal["kaiming", "xavier", "orthogonal", "default"] = Field(
        "kaiming", description="Weight initialisation (default: PyTorch's)."
    )
    embedding_dim: int | None = Field(
        None,
        ge=1,
        description="Width of categorical embeddings, default min(32, (categories + 1) // 2); text_rnn: tokens, 128.",
    )
    rnn_type: Literal["lstm", "gru"] = Field("lstm", description="text_rnn: the recurrent cell.")
    rnn_hidden: int = Field(128, ge=1, description="text_rnn, rnn, lstm, gru: hidden units per direction.")
    rnn_layers: int = Field(1, ge=1, description="text_rnn, rnn, lstm, gru: stacked recurrent layers.")
    bidirectional: bool = Field(True, description="text_rnn, rnn, lstm, gru: read the input in both directions.")
    pooling: Literal["auto", "last", "mean", "max", "cls"] = Field(
        "auto",
        description="Text to one vector: last, mean or max over tokens (text_rnn; auto: max); "
        "cls or mean (transformer; auto: mean).",
    )
    d_model: int = Field(128, ge=1, description="transformer: width of tokens and layers (a multiple of heads).")
    heads: int = Field(4, ge=1, description="transformer: attention heads.")
    layers: int = Field(2, ge=1, description="transformer: encoder layers.")
    ff_dim: int | None = Field(None, ge=1, description="transformer: feed-forward width; default 2 x d_model.")
    positional: Literal["sinusoidal", "learned"] = Field(
        "sinusoidal", description="transformer: position encoding, fixed sinusoids or learned vectors."
    )
    channels: list[int] = Field(
        default_factory=lambda: [32, 64, 128],
        description="cnn, resnet: convolution widths, one stage each (halving the resolution between stages).",
    )
    blocks: int = Field(
        2, ge=1, description="cnn: conv-BN-activation layers per stage; resnet: basic blocks per stage."
    )
    latent_dim: int = Field(64, ge=1, description="gan: size of the generator's random input vector z.")
    gan_loss: Literal["non_saturating", "wgan_gp"] = Field(
        "non_saturating", description="gan: non_saturating (BCE, as DCGAN) or wgan_gp (Wasserstein + gradient penalty)."
    )
    gan_lr_g: float = Field(2e-4, gt=0, description="gan: learning rate of the generator (Adam).")
    gan_lr_d: float = Field(2e-4, gt=0, description="gan: learning rate of the discriminator (Adam).")
    gan_betas: tuple[float, float] = Field((0.5, 0.999), description="gan: Adam betas of both nets (as DCGAN).")
    gan_gp_weight: float = Field(10.0, ge=0, description="gan, wgan_gp: weight of the gradient penalty.")
    gan_n_critic: int | None = Field(
        None, ge=1, description="gan: discriminator steps per generator step; default 5 for wgan_gp, 1 otherwise."
    )
    gan_ema: float = Field(
        0.999, ge=0, lt=1, description="gan: samples come from a moving average of the generator's weights (0: off)."
    )

    @field_validator("channels")
    @classmethod
    def _positive_channels(cls, value: list[int]) -> list[int]:
        if not value or any(c < 1 for c in value):
            raise ValueError(f"channels must be a non-empty list of positive integers; got {value}")
        return value

    @field_validator("hidden")
    @classmethod
    def _positive_sizes(cls, value: list[int]) -> list[int]:
        if any(h < 1 for h in value):
            raise ValueError(f"hidden sizes must be positive integers; got {value}")
        return value

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from deepfit.models.registry import architecture_names

        names = architecture_names()
        if value not in names:
            raise ValueError(f"unknown architecture '{value}'{did_you_mean(value, names)}; known: {', '.join(names)}")
        return value


# ---------------------------------------------------------------- train
class OptimizerConfig(Section):
    name: Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"] = Field("adamw", description="Optimizer.")
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) betas.")
    eps: float = Field(1e-8, gt=0, description="Numerical stability term (adam, adamw, adagrad, rmsprop).")


class ScheduleConfig(Section):
    name: Literal["constant", "step", "exponential", "cosine", "onecycle", "plateau"] = Field(
        "cosine", description="Learning-rate schedule."
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


class TrainConfig(Section):
    epochs: int = Field(100, ge=1, description="Maximum number of epochs.")
    batch_size: int = Field(64, ge=1, description="Samples per forward/backward pass (a micro-batch).")
    accumulate: int = Field(
        1, ge=1, description="Micro-batches per optimizer step (gradient accumulation); effective batch = product."
    )
    lr: float | Literal["auto"] = Field(
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
    loss: Literal["auto", "cross_entropy", "mse", "mae", "huber"] = Field(
        "auto", description="auto: cross_entropy for classification, mse for regression."
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing (cross_entropy).")
    class_weights: Literal["none", "balanced"] = Field("none", description="Weight classes inversely to frequency.")
    huber_delta: float = Field(1.0, gt=0, description="Huber loss threshold.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    clip_grad_norm: float | None = Field(None, gt=0, description="Clip the global gradient norm to this value.")
    clip_grad_value: float | None = Field(None, gt=0, description="Clip each gradient element to ±this value.")
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: cuda when available.")
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)

    _identifiers = field_validator("optimizer", "schedule", mode="before")(lambda cls, v: _name_or_dict(v))

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value: float | str) -> float | str:
        if value != "auto" and value <= 0:
            raise ValueError("Input should be greater than 0")
        return value


# ---------------------------------------------------------------- eval / output
class EvalConfig(Section):
    batch_size: int = Field(1024, ge=1, description="Batch size for evaluation and prediction.")
    metrics: list[str] | None = Field(None, description="Metrics in the summary table; default by task.")

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
class SamplerConfig(Section):
    name: Literal["grid", "random", "bayesian", "cmaes"] = Field(
        "bayesian", description="grid, random, bayesian (TPE) or cmaes (float and int ranges only)."
    )
    startup_trials: int | None = Field(
        None, ge=0, description="Random trials before bayesian / cmaes model the results; default Optuna's."
    )


class PrunerConfig(Section):
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

    _identifiers = field_validator("sampler", "pruner", mode="before")(lambda cls, v: _name_or_dict(v))

    @field_validator("space")
    @classmethod
    def _valid_space(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from deepfit.tuning.space import parse_space

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
    model: ModelConfig = Field(default_factory=ModelConfig)
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
        file, _, function = (self.model.builder or "").rpartition(":")
        if file.endswith(".py"):  # model.builder: my_models.py:build, beside the config file
            copy.model = self.model.model_copy(update={"builder": f"{self.resolve_path(file)}:{function}"})
        copy._base_dir = self._base_dir
        return copy

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------- loading
def load_config(
    source: str | Path | dict[str, Any] | Config | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> Config:
    """Build a validated Config from a YAML path, a dict or a Config, then apply overrides.

    ``overrides`` are ``["train.lr=3e-4", ...]`` (values parsed as YAML) or ``{"train.lr": 3e-4}``.
    Every error is gathered into one ConfigError.
    """
    origin, lines, base_dir = "config", {}, Path.cwd()
    if isinstance(source, Config):
        raw, base_dir = source.to_dict(), source.base_dir
    elif isinstance(source, dict):
        raw = _deep_copy(source)
    elif source is None:
        raw = {}
    else:
        path = Path(source)
        raw, lines = _read_yaml(path)
        origin, base_dir = str(path), path.resolve().parent
    for key, value in _parse_overrides(overrides).items():
        _set_dotted(raw, key, value)
        lines[key] = "--set"
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin, lines)) from None
    config._base_dir = base_dir
    return config


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(
            f"Config file not found: {path}", hint="check the path (it is relative to the working directory)"
        )
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) or {}
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections (data, model, train, eval, output)")
    return raw, _key_lines(node)


def _key_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Map every dotted key of a YAML document to its 1-based line number."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            dotted = f"{prefix}{key_node.value}"
            out[dotted] = key_node.start_mark.line + 1
            out.update(_key_lines(value_node, dotted + "."))
    return out


def _parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, for example --set train.lr=3e-4")
        try:
            parsed[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed[key.strip()] = value
    return parsed


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, str):  # "optimizer: sgd" then --set train.optimizer.momentum=0.5
            child = {"name": child}
        if not isinstance(child, dict):
            child = {}
        node[part] = child
        node = child
    node[parts[-1]] = value


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _format_errors(exc: ValidationError, origin: str, lines: dict[str, Any]) -> str:
    messages = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        dotted = ".".join(loc) or "(top level)"
        where = lines.get(dotted)
        prefix = f"{origin}:{where}" if isinstance(where, int) else (f"--set {dotted}" if where else origin)
        if err["type"] == "extra_forbidden":
            known = _known_keys(loc[:-1])
            text = f"unknown key '{loc[-1]}'{did_you_mean(loc[-1], known)}; allowed: {', '.join(known)}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            text = f"{msg} (got {err['input']!r})" if not isinstance(err["input"], dict) else msg
        messages.append(f"{prefix}: {dotted}: {text}")
    count = len(messages)
    head = f"{count} error{'s' if count > 1 else ''} in the config:"
    return "\n".join([head, *("  - " + m for m in messages)])


def _known_keys(loc: list[str]) -> list[str]:
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)
