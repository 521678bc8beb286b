"""The model section: the architecture and its sizes."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from deepfit.config.base import Section
from deepfit.errors import did_you_mean


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
