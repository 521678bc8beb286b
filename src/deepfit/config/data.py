"""The data section: source, split, cleaning, preprocessing and each data kind's settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from deepfit.config.base import Section
from deepfit.data.registry import AUGMENTATIONS, KINDS

# ---------------------------------------------------------------- data


def _kind_name(value: str) -> str:
    return value if value == "auto" else KINDS.check(value)


# auto, or a kind of deepfit.data.registry (registered ones included), checked without importing the kind
DataKindName = Annotated[str, AfterValidator(_kind_name), KINDS]
AugmentationName = Annotated[str, AfterValidator(AUGMENTATIONS.check), AUGMENTATIONS]


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
    custom: dict[AugmentationName, float] = Field(
        default_factory=dict,
        description="Images: registered augmentations (deepfit.register_augmentation) and their strengths, run "
        "after the built-in ones.",
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


class StreamConfig(Section):
    """Settings of data streamed from disk (data.streaming; docs/streaming.md)."""

    memory_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="data.streaming auto: stream when the source's in-memory size is above this fraction of the "
        "memory available when the run starts.",
    )
    chunk_rows: int = Field(
        16384, ge=64, description="Rows per Parquet row group written when a CSV is converted (the shuffled unit)."
    )
    shuffle_buffer: int = Field(
        16384, ge=0, description="Rows held in the shuffle buffer that mixes row groups read in a seeded order."
    )
    prefetch: int = Field(8, ge=1, description="Batches a background thread prepares ahead of the training loop.")
    sample_rows: int = Field(
        50000,
        ge=100,
        description="Training rows in the uniform sample (seeded hash) that fits what one pass cannot fit exactly: "
        "quantiles, the median, dates, free text; also the head read for column kinds.",
    )
    eval_rows: int = Field(
        50000,
        ge=10,
        description="Validation and test rows held in memory; a larger split is scored exactly by streaming it, "
        "and early stopping watches a sample of this many rows.",
    )
    cache_dir: str | None = Field(
        None, description="Folder of the Parquet copies of CSV sources; default $XDG_CACHE_HOME/deepfit/stream."
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
    kind: DataKindName = Field(
        "auto",
        description="What the data is: tabular, image, sequence, timeseries, text or a registered kind; auto: from "
        "the source (an image folder, a 3-D .npz) and sections set.",
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
    streaming: bool | Literal["auto"] = Field(
        "auto",
        description="Read a table from disk in row groups instead of loading it: true, false, or auto (when the "
        "file's in-memory size is above data.stream.memory_fraction of the available memory).",
    )
    stream: StreamConfig = Field(default_factory=StreamConfig)
