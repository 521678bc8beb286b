"""The typed config: six sections (data, model, train, eval, output, tune), validated at the edge.

Every field has a best-practice default and a description. Unknown keys are errors with a
"did you mean"; every error is reported at once with the file, the YAML line and the dotted key.
Loading never imports torch, so ``deepfit config show`` stays fast.
"""

from __future__ import annotations

import math
import re
import stat
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

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
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from deepfit.errors import ConfigError, did_you_mean


class Section(BaseModel):
    """A config section: unknown keys are errors and values keep their YAML type (``epochs: true`` is not 1).

    Strict validation still takes an integer for a float; ``_from_yaml`` turns YAML lists into the tuples it
    wants, and a section whose keys are all commented out (``train:`` alone, a null) into its defaults.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        out = {}
        for key, value in data.items():
            annotation = fields[key].annotation if key in fields else None
            if isinstance(value, list) and any(get_origin(a) is tuple for a in _members(annotation)):
                value = tuple(value)
            elif value is None and any(_is_section(a) for a in _members(annotation)):
                value = {}
            out[key] = value
        return out


class NamedSection(Section):
    """An identifier: a name (``optimizer: sgd``) or a mapping (``optimizer: {name: sgd, momentum: 0.8}``)."""

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types a value of ``annotation`` may have: a union's members, an Annotated type's base."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return tuple(m for arg in get_args(annotation) for m in _members(arg))
    return (annotation,)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


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
    scaling: Literal["auto", "standard", "minmax", "quantile", "robust", "none"] = Field(
        "auto",
        description="Numeric feature scaling: standard, minmax, quantile (ranks mapped to a normal distribution, "
        "as TabM), robust (median and interquartile range, smoothly clipped to ±3, as RealMLP) or none; "
        "auto: quantile for a table whose model is auto or tabm, standard otherwise.",
    )
    missing_indicators: bool = Field(
        True,
        description="A table's numeric column with missing cells in train also gets a 0/1 'was missing' feature.",
    )
    categorical: Literal["auto", "onehot", "embedding"] = Field(
        "auto",
        description="Categorical encoding; auto: one-hot up to max_onehot categories, embedding above.",
    )
    max_onehot: int = Field(16, ge=2, description="Largest cardinality one-hot encoded when categorical is auto.")
    min_frequency: int = Field(
        5,
        ge=1,
        description="Categories seen fewer times in train are pooled into one 'other' level, which unseen ones "
        "join at prediction (no pooling when every category is that rare).",
    )
    text_features: int = Field(
        32,
        ge=2,
        le=512,
        description="Free-text columns of a table: features each (tf-idf of words and word pairs, projected on "
        "its top singular vectors in train).",
    )
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


ColumnKind = Literal["numeric", "categorical", "boolean", "date", "text"]


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
        description="Width of categorical embeddings, default min(32, (categories + 1) // 2); text_rnn: tokens, 128; "
        "ngram: tokens and bigrams, 32.",
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
    ngram_buckets: int = Field(
        16_384, ge=0, description="ngram: hash buckets of bigram embeddings (0: words only, no bigrams)."
    )
    tabm_k: int = Field(32, ge=1, description="tabm: ensemble members sharing the MLP's weights (BatchEnsemble).")
    tabm_width: int = Field(512, ge=1, description="tabm: width of each block.")
    tabm_blocks: int | None = Field(
        None, ge=1, description="tabm: blocks (Linear-ReLU-Dropout); default 2 with numeric embeddings, 3 without."
    )
    tabm_embedding: Literal["piecewise_linear", "periodic", "none"] = Field(
        "piecewise_linear", description="tabm: embeddings of the float features (piecewise_linear: 48 bins, size 16)."
    )
    tabm_bins: int = Field(48, ge=2, description="tabm, piecewise_linear: bins per feature.")
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
class OptimizerConfig(NamedSection):
    name: Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"] = Field("adamw", description="Optimizer.")
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) betas.")
    eps: float = Field(1e-8, gt=0, description="Numerical stability term (adam, adamw, adagrad, rmsprop).")


class ScheduleConfig(NamedSection):
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
    origin, lines, problems, base_dir = "config", {}, [], Path.cwd()
    if isinstance(source, Config):
        raw, base_dir = source.to_dict(), source.base_dir
    elif isinstance(source, dict):
        raw = _deep_copy(source)
    elif source is None:
        raw = {}
    else:
        path = Path(source)
        raw, lines, problems = _read_yaml(path)
        origin, base_dir = str(path), path.resolve().parent
    for key, value in _parse_overrides(overrides).items():
        _set_dotted(raw, key, value)
        lines = {k: v for k, v in lines.items() if not k.startswith(f"{key}.")}
        lines[key] = "--set"
    non_finite = [(key, f"expected a finite number; got {_show(value)}") for key, value in _non_finite(raw)]
    problems += non_finite
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += _validation_problems(exc, skip={key for key, _ in non_finite})
    if problems:
        raise ConfigError(
            _format_problems(problems, origin, lines),
            hint="fix the keys named; `deepfit config show` prints every key with its default",
        )
    config._base_dir = base_dir
    return config


# A config is a few kilobytes: a bigger file is a data file passed by mistake (and would take long to parse).
_MAX_CONFIG_BYTES = 10 * 2**20
# An alias (*name) repeats a node without copying it, so that nine aliases of nine aliases... make a few lines
# stand for billions of values, which anything walking the config would take hours over.
_MAX_CONFIG_VALUES = 100_000


class _YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading YAML 1.2's floats without a dot (``1e-3``) as numbers, not as strings."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


class _TooManyValues(yaml.YAMLError):
    """The document's aliases expand to more than ``_MAX_CONFIG_VALUES`` values."""


class _Layout(NamedTuple):
    lines: dict[str, int | str]  # dotted key -> line
    duplicates: list[tuple[str, int, int]]  # dotted key, first line, second line


def _parse_yaml(text: str) -> tuple[Any, _Layout]:
    """One YAML document: its value, and where its keys are (read before ``<<:`` merges are flattened)."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if _expanded_size(node) > _MAX_CONFIG_VALUES:
            raise _TooManyValues(f"its aliases (*name) expand to more than {_MAX_CONFIG_VALUES:,} values")
        layout = _Layout(*_key_lines(node))
        return (loader.construct_document(node) if node is not None else None), layout
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int | str], list[tuple[str, str]]]:
    """A config file's mapping, the line of each dotted key, and the keys it sets twice (as problems)."""
    text = _read_text(path)
    try:
        raw, layout = _parse_yaml(text)
    except _TooManyValues as exc:
        raise ConfigError(f"{path}: {exc}", hint="write the values out, or alias fewer times") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config", hint="a config is a few levels deep") from None
    if raw is None:  # an empty file, or comments only: every key at its default
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a config is a mapping of sections ({', '.join(Config.model_fields)}); got {_kind(raw)}",
            hint="start a line with a section, e.g. 'train:', and indent its keys below it (see examples/)",
        )
    problems = [
        (key, f"set twice, on lines {first} and {second}; YAML would silently keep the last")
        for key, first, second in layout.duplicates
    ]
    return raw, layout.lines, problems


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            inside = sorted(str(p) for p in [*path.glob("*.yaml"), *path.glob("*.yml")])[:3]
            raise ConfigError(
                f"{path} is a directory, not a YAML config file",
                hint=f"pass a config file{' such as ' + ', '.join(inside) if inside else ''}",
            )
        info = path.stat()
        if stat.S_ISREG(info.st_mode) and info.st_size > _MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: {info.st_size / 2**20:.0f} MiB is too big for a config file",
                hint="pass the YAML config; a data file goes in its data.source",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"Config file not found: {path}", hint="check the path (it is relative to the working directory)"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file: {exc.strerror or exc}", hint="check the file's permissions"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        binary = "; it looks like a binary file" if b"\0" in data[:8192] else ""
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}{binary}",
            hint="save it as UTF-8 (a config is a YAML text file)",
        ) from None


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    """A YAML syntax error as a ConfigError naming the line."""
    where, problem = str(path), str(exc)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        where, problem = f"{path}:{exc.problem_mark.line + 1}", str(exc.problem)
        if exc.context and problem.startswith("but "):  # "expected a single document ... but found another"
            problem = f"{exc.context} {problem}"
        elif exc.context and exc.context_mark is not None:
            problem += f" ({exc.context}, from line {exc.context_mark.line + 1})"
    elif isinstance(exc, yaml.reader.ReaderError):
        where = f"{path}:{text.count(chr(10), 0, exc.position) + 1}"
        problem = f"control character #x{exc.character:04x} (a config is text)"
    hints = {
        "'\\t'": "indent with spaces: YAML does not allow tabs",
        "another document": "a config is one YAML document: remove the '---' line that starts a second one",
        "control character": "save the config as plain UTF-8 text",
    }
    hint = next((h for key, h in hints.items() if key in problem), None)
    return ConfigError(
        f"{where}: not valid YAML: {problem}", hint=hint or "check the indentation, colons, brackets and quotes there"
    )


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values a YAML document holds once its aliases are expanded (a node inside itself: no end)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = _MAX_CONFIG_VALUES + 1  # until known: a node met again inside itself is endless
            children = node.value if isinstance(node, yaml.CollectionNode) else []
            nodes = [n for child in children for n in (child if isinstance(child, tuple) else (child,))]
            sizes[id(node)] = min(1 + sum(size(n) for n in nodes), _MAX_CONFIG_VALUES + 1)
        return sizes[id(node)]

    return size(root) if root is not None else 0


def _key_lines(root: yaml.Node | None) -> tuple[dict[str, int | str], list[tuple[str, int, int]]]:
    """Map every dotted key (and list index) of a YAML document to its 1-based line; and the keys set twice."""
    lines: dict[str, int | str] = {}
    duplicates: list[tuple[str, int, int]] = []
    walked: set[int] = set()

    def walk(node: yaml.Node, prefix: str) -> None:
        if id(node) in walked:  # an alias of a node already walked
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: later keys override on purpose
                    continue
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                dotted, line = f"{prefix}{key}", key_node.start_mark.line + 1
                if (key_node.tag, key) in first:
                    duplicates.append((dotted, first[key_node.tag, key], line))
                first.setdefault((key_node.tag, key), line)
                lines[dotted] = line  # the last one: its value is the one loaded
                walk(value_node, f"{dotted}.")
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault(f"{prefix}{index}", item.start_mark.line + 1)
                walk(item, f"{prefix}{index}.")

    if root is not None:
        walk(root, "")
    return lines, duplicates


def _parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    parsed = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not all(key.split(".")):
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE with a dotted KEY",
                hint="for example --set train.lr=3e-4 (`deepfit config show` lists the keys)",
            )
        try:
            parsed[key] = _parse_yaml(value)[0] if value.strip() else None
        except yaml.YAMLError:
            parsed[key] = value
    return parsed


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1], 1):
        section = ".".join(parts[:depth])
        schema = _schema_at(parts[:depth])
        child = node.get(part)
        if schema is not None and not any(_holds_keys(a) for a in _members(schema[0])):
            raise ConfigError(
                f"--set {key}: {section} is a single value ({_expected(*schema)}), not a section of keys",
                hint=f"set it as a whole: --set {section}=VALUE",
            )
        if isinstance(child, str) and schema is not None and _is_named(schema[0]):
            child = {"name": child}  # "optimizer: sgd" then --set train.optimizer.momentum=0.5
        elif child is not None and not isinstance(child, dict):
            raise ConfigError(
                f"--set {key}: {section} is {_show(child)}, not a section of keys",
                hint=f"set it as a whole: --set {section}=VALUE",
            )
        node[part] = child = child if child is not None else {}
        node = child
    node[parts[-1]] = value


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def _non_finite(value: Any, prefix: str = "", walked: set[int] | None = None) -> list[tuple[str, float]]:
    """Every NaN or infinity in a raw config, by dotted key (list items by index): no setting takes one."""
    walked = set() if walked is None else walked
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(prefix.rstrip("."), value)]
    if not isinstance(value, dict | list | tuple) or id(value) in walked:
        return []
    walked.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return [found for key, item in items for found in _non_finite(item, f"{prefix}{key}.", walked)]


# ---------------------------------------------------------------- error messages
# pydantic errors about the kind of a value, rather than its range: reported as "expected ...; got ...".
_TYPE_ERRORS = frozenset(
    {
        *("bool_type", "bool_parsing", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"),
        *("string_type", "literal_error", "enum", "none_required", "is_instance_of"),
        *("model_type", "model_attributes_type", "dict_type", "list_type", "tuple_type"),
    }
)

Schema = tuple[Any, list[Any]]  # a type in the config and its constraints (Field(ge=...) metadata)


def _validation_problems(exc: ValidationError, skip: set[str]) -> list[tuple[str, str]]:
    """One problem per dotted key: a union's failed members, which pydantic reports one by one, become one."""
    groups: dict[str, list[ErrorDetails]] = {}
    where: dict[str, tuple[list[str | int], Schema]] = {}
    for err in exc.errors():
        loc, schema = _clean_loc(err["loc"], keep_last=err["type"] == "extra_forbidden")
        dotted = ".".join(map(str, loc)) or "(top level)"
        if dotted not in skip:
            groups.setdefault(dotted, []).append(err)
            where[dotted] = loc, schema
    return [(dotted, _describe(errors, *where[dotted])) for dotted, errors in groups.items()]


def _clean_loc(loc: tuple[str | int, ...], keep_last: bool) -> tuple[list[str | int], Schema]:
    """pydantic's error location without its type tags (``float``, ``literal['auto']``, ``function-after[...]``):
    keys and list indices only; and the schema of the value found there."""
    clean: list[str | int] = []
    schema = parent = (Config, [])
    for index, part in enumerate(loc):
        if part == "[key]":  # the mapping's key itself is wrong, not its value
            schema = next(((get_args(m)[0], []) for m in _members(parent[0]) if get_origin(m) is dict), schema)
            continue
        child = _child(schema, part)
        if child is not None:
            clean.append(part)
            schema, parent = child, schema
        elif keep_last and index == len(loc) - 1:  # an unknown key
            clean.append(part)
    return clean, schema


def _child(schema: Schema, part: str | int) -> Schema | None:
    """The schema under key or index ``part``; None when ``part`` is not one (pydantic's tag of a union member)."""
    for member in _members(schema[0]):
        origin, args = get_origin(member), get_args(member)
        if _is_section(member) and isinstance(part, str) and part in member.model_fields:
            field = member.model_fields[part]
            return field.annotation, field.metadata
        if origin is list and isinstance(part, int):
            return args[0], []
        if origin is tuple and isinstance(part, int):
            return (args[0] if args[-1] is Ellipsis else args[min(part, len(args) - 1)]), []
        if origin is dict:
            return args[1], []
        if member is Any:
            return Any, []
    return None


def _schema_at(parts: list[str]) -> Schema | None:
    schema: Schema | None = (Config, [])
    for part in parts:
        schema = _child(schema, part) if schema is not None else None
    return schema


def _holds_keys(annotation: Any) -> bool:
    return _is_section(annotation) or get_origin(annotation) is dict or annotation is Any


def _is_named(annotation: Any) -> bool:
    return any(isinstance(a, type) and issubclass(a, NamedSection) for a in _members(annotation))


def _describe(errors: list[ErrorDetails], loc: list[str | int], schema: Schema) -> str:
    """What is wrong at one key, in words: an unknown key, a value out of range, or a value of the wrong kind."""
    if errors[0]["type"] == "extra_forbidden":
        known, name = _known_keys(loc[:-1]), str(loc[-1])
        homes = [key for key in _all_keys() if key.endswith(f".{name}")]  # the one section that has it, if any
        elsewhere = f" (did you mean '{homes[0]}'?)" if len(homes) == 1 else ""
        return f"unknown key '{name}'{did_you_mean(name, known) or elsewhere}; allowed: {', '.join(known)}"
    other = next((e for e in errors if e["type"] not in _TYPE_ERRORS), None)
    if other is not None:  # the value has the right kind (one union member took it), but not a valid value
        msg = other["msg"].removeprefix("Value error, ")
        return msg if isinstance(other["input"], dict) else f"{msg} (got {_show(other['input'])})"
    value = errors[0]["input"]
    text = f"expected {_expected(*schema)}; got {_show(value)}"
    if isinstance(value, str):
        names = [a for m in _members(schema[0]) if get_origin(m) is Literal for a in get_args(m)]
        text += did_you_mean(value, names)
        if type(_scalar(value)) in (int, float):
            text += " (a quoted string: write it without quotes)"
    elif isinstance(value, int | float) and str in _members(schema[0]):
        text += " (write it in quotes)"
    return text


def _scalar(text: str) -> Any:
    """What YAML reads ``text`` as when it is not quoted (``'3'`` -> 3); None if not a plain scalar."""
    try:
        value, _ = _parse_yaml(text)
    except yaml.YAMLError:
        return None
    return value


_NOUNS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Any: "a value"}
_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}


def _expected(annotation: Any, metadata: list[Any]) -> str:
    """What a setting takes, in words: ``a positive number or 'auto'``, ``a number in [0, 1)``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _expected(args[0], [*metadata, *args[1:]])
    if origin in (Union, UnionType):
        kinds = [_expected(a, metadata) for a in args if a is not NoneType]
        return " or ".join(dict.fromkeys(kinds))
    if origin is Literal:
        return " or ".join(repr(a) for a in args) if len(args) < 3 else f"one of {', '.join(map(repr, args))}"
    if origin in (list, tuple):
        items = _PLURALS.get(args[0], "values") if get_origin(args[0]) is not Literal else "names"
        size = f"{len(args)} " if origin is tuple and args[-1] is not Ellipsis else ""
        return f"a list of {size}{items}"
    if origin is dict:
        return "a mapping"
    if _is_named(annotation):
        names = get_args(annotation.model_fields["name"].annotation)
        return f"a name ({', '.join(names)}) or a mapping with a name"
    if _is_section(annotation):
        return "a section (a mapping of keys)"
    if annotation in (int, float):
        return _bounded(annotation, metadata)
    return _NOUNS.get(annotation, "a valid value")


def _bounded(kind: type, metadata: list[Any]) -> str:
    """``a positive integer``, ``a number ≥ 0``, ``a number in (0, 1]``: a number and its bounds."""
    bounds: dict[str, Any] = {}
    for item in metadata:
        for constraint in item.metadata if isinstance(item, FieldInfo) else [item]:
            bounds.update({k: getattr(constraint, k) for k in ("gt", "ge", "lt", "le") if hasattr(constraint, k)})
    noun = "an integer" if kind is int else "a number"
    low, high = bounds.get("gt", bounds.get("ge")), bounds.get("lt", bounds.get("le"))
    if low is not None and high is not None:
        return f"{noun} in {'(' if 'gt' in bounds else '['}{low:g}, {high:g}{')' if 'lt' in bounds else ']'}"
    if bounds.get("gt") == 0 or (kind is int and bounds.get("ge") == 1):
        return f"a positive {noun.split()[-1]}"
    if low is not None:
        return f"{noun} {'>' if 'gt' in bounds else '≥'} {low:g}"
    if high is not None:
        return f"{noun} {'<' if 'lt' in bounds else '≤'} {high:g}"
    return noun


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML: ``true``, ``null``, ``.nan``, ``'fast'``; long ones cut."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return f"{kinds.get(type(value), type(value).__name__)} ({_show(value)})"


def _format_problems(problems: list[tuple[str, str]], origin: str, lines: dict[str, int | str]) -> str:
    """``N errors in the config:`` then one line per key, ``file:line: dotted.key: what``, in file order."""
    located = [(_where(dotted, origin, lines), dotted, text) for dotted, text in problems]
    located.sort(key=lambda item: item[0][0])
    count = len(located)
    head = f"{count} error{'s' if count > 1 else ''} in the config:"
    return "\n".join([head, *(f"  - {where}: {dotted}: {text}" for (_, where), dotted, text in located)])


def _where(dotted: str, origin: str, lines: dict[str, int | str]) -> tuple[float, str]:
    """Where a key was set: ``file:line``, ``--set key``, or the origin; with a sort key (file lines first)."""
    parts = dotted.split(".")
    keys = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]  # the key, then its sections
    keys += [k for k in lines if k.startswith(f"{dotted}.")]  # a section's error: a key set inside it
    key = next((k for k in keys if k in lines), None)
    if key is None:
        return math.inf, origin
    where = lines[key]
    return (where, f"{origin}:{where}") if isinstance(where, int) else (math.inf, f"--set {key}")


def _all_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every dotted key of the config, sections included."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(f"{prefix}{name}")
        for section in (m for m in _members(field.annotation) if _is_section(m)):
            keys += _all_keys(section, f"{prefix}{name}.")
    return keys


def _known_keys(loc: list[str | int]) -> list[str]:
    schema = _schema_at([str(part) for part in loc])
    section = next((m for m in _members(schema[0]) if _is_section(m)), None) if schema else None
    return list(section.model_fields) if section else []
