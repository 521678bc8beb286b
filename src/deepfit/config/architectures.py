"""The model section of each built-in architecture: its own keys on top of the common ones.

A key has one meaning and one type in every architecture that has it (``hidden`` is the MLP's layers and the
GAN's), so each is defined once here and listed by the classes that use it. ``AutoModelConfig`` holds the keys
of every family ``model.name: auto`` can choose; once the data is read, ``models.select.resolve_model`` turns
it into the chosen architecture's class.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_serializer

from deepfit.config.model import COMMON_KEYS, ModelConfig, architecture_name


def _positive(what: str):
    def check(value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError(f"{what} must be positive integers; got {value}")
        return value

    return check


def _not_empty(value: list[int]) -> list[int]:
    if not value:
        raise ValueError("channels must be a non-empty list of positive integers; got []")
    return value


# ---------------------------------------------------------------- keys, each defined once
Hidden = Annotated[list[int], AfterValidator(_positive("hidden sizes")), Field(description="Hidden layer sizes.")]
Activation = Annotated[
    Literal["relu", "leaky_relu", "gelu", "tanh", "sigmoid"],
    Field(description="Activation (transformer: relu or gelu)."),
]
BatchNorm = Annotated[bool, Field(description="Batch normalisation after each hidden linear layer.")]
Init = Annotated[
    Literal["kaiming", "xavier", "orthogonal", "default"],
    Field(description="Weight initialisation (default: PyTorch's)."),
]
EmbeddingDim = Annotated[
    int | None,
    Field(
        ge=1,
        description="Width of categorical embeddings, default min(32, (categories + 1) // 2); text_rnn: tokens, "
        "128; ngram: tokens and bigrams, 32.",
    ),
]
RnnHidden = Annotated[int, Field(ge=1, description="Hidden units per direction of the recurrent layers.")]
RnnLayers = Annotated[int, Field(ge=1, description="Stacked recurrent layers.")]
Bidirectional = Annotated[bool, Field(description="Read the input in both directions.")]
Pooling = Annotated[
    Literal["auto", "last", "mean", "max", "cls"],
    Field(
        description="Text to one vector: last, mean or max over tokens (text_rnn; auto: max); "
        "cls or mean (transformer; auto: mean)."
    ),
]
Channels = Annotated[
    list[int],
    AfterValidator(_not_empty),
    AfterValidator(_positive("channels")),
    Field(description="Convolution widths, one stage each (halving the resolution between stages)."),
]


# ---------------------------------------------------------------- one class per family
class MLPConfig(ModelConfig):
    """``mlp``: fully connected layers, embeddings for high-cardinality categoricals."""

    size_keys: ClassVar[tuple[str, ...]] = ("hidden",)
    name: str = architecture_name("mlp")
    hidden: Hidden = Field(default_factory=lambda: [256, 128])
    activation: Activation = "relu"
    batch_norm: BatchNorm = False
    init: Init = "kaiming"
    embedding_dim: EmbeddingDim = None


class TabMConfig(ModelConfig):
    """``tabm``: k members sharing one MLP's weights (BatchEnsemble), numeric embeddings."""

    size_keys: ClassVar[tuple[str, ...]] = ("tabm_width", "tabm_blocks", "tabm_k")
    name: str = architecture_name("tabm")
    tabm_k: int = Field(32, ge=1, description="Ensemble members sharing the MLP's weights (BatchEnsemble).")
    tabm_width: int = Field(512, ge=1, description="Width of each block.")
    tabm_blocks: int | None = Field(
        None, ge=1, description="Blocks (Linear-ReLU-Dropout); default 2 with numeric embeddings, 3 without."
    )
    tabm_embedding: Literal["piecewise_linear", "periodic", "none"] = Field(
        "piecewise_linear", description="Embeddings of the float features (piecewise_linear: 48 bins, size 16)."
    )
    tabm_bins: int = Field(48, ge=2, description="piecewise_linear: bins per feature.")
    embedding_dim: EmbeddingDim = None


class NGramConfig(ModelConfig):
    """``ngram``: a fastText-style bag of word and hashed-bigram embeddings."""

    size_keys: ClassVar[tuple[str, ...]] = ("embedding_dim", "ngram_buckets")
    name: str = architecture_name("ngram")
    embedding_dim: EmbeddingDim = None
    ngram_buckets: int = Field(16_384, ge=0, description="Hash buckets of bigram embeddings (0: words only).")
    init: Init = "kaiming"


class ConvConfig(ModelConfig):
    """``cnn`` (conv-BN stages) and ``resnet`` (basic residual blocks)."""

    size_keys: ClassVar[tuple[str, ...]] = ("channels", "blocks")
    name: str = architecture_name("cnn")
    channels: Channels = Field(default_factory=lambda: [32, 64, 128])
    blocks: int = Field(2, ge=1, description="cnn: conv-BN-activation layers per stage; resnet: basic blocks.")
    activation: Activation = "relu"
    init: Init = "kaiming"


class RNNConfig(ModelConfig):
    """``rnn``, ``lstm``, ``gru``: recurrent layers over (batch, steps, features)."""

    size_keys: ClassVar[tuple[str, ...]] = ("rnn_hidden", "rnn_layers")
    name: str = architecture_name("lstm")
    rnn_hidden: RnnHidden = 128
    rnn_layers: RnnLayers = 1
    bidirectional: Bidirectional = True
    init: Init = "kaiming"


class TextRNNConfig(ModelConfig):
    """``text_rnn``: token embeddings, then an LSTM or GRU, pooled."""

    size_keys: ClassVar[tuple[str, ...]] = ("rnn_hidden", "rnn_layers")
    name: str = architecture_name("text_rnn")
    embedding_dim: EmbeddingDim = None
    rnn_type: Literal["lstm", "gru"] = Field("lstm", description="The recurrent cell.")
    rnn_hidden: RnnHidden = 128
    rnn_layers: RnnLayers = 1
    bidirectional: Bidirectional = True
    pooling: Pooling = "auto"
    init: Init = "kaiming"


class TransformerConfig(ModelConfig):
    """``transformer``: a text encoder with positional encoding and pooling."""

    size_keys: ClassVar[tuple[str, ...]] = ("d_model", "layers")
    name: str = architecture_name("transformer")
    d_model: int = Field(128, ge=1, description="Width of tokens and layers (a multiple of heads).")
    heads: int = Field(4, ge=1, description="Attention heads.")
    layers: int = Field(2, ge=1, description="Encoder layers.")
    ff_dim: int | None = Field(None, ge=1, description="Feed-forward width; default 2 x d_model.")
    positional: Literal["sinusoidal", "learned"] = Field(
        "sinusoidal", description="Position encoding, fixed sinusoids or learned vectors."
    )
    pooling: Pooling = "auto"
    activation: Activation = "relu"
    init: Init = "kaiming"


class GANConfig(ModelConfig):
    """``gan``: a generator and a discriminator (MLPs for tables, DCGAN-style for images), its own loop."""

    size_keys: ClassVar[tuple[str, ...]] = ("hidden",)
    name: str = architecture_name("gan")
    latent_dim: int = Field(64, ge=1, description="Size of the generator's random input vector z.")
    hidden: Hidden = Field(default_factory=lambda: [256, 128])
    channels: Channels = Field(default_factory=lambda: [32, 64, 128])
    activation: Activation = "relu"
    gan_loss: Literal["non_saturating", "wgan_gp"] = Field(
        "non_saturating", description="non_saturating (BCE, as DCGAN) or wgan_gp (Wasserstein + gradient penalty)."
    )
    gan_lr_g: float = Field(2e-4, gt=0, description="Learning rate of the generator (Adam).")
    gan_lr_d: float = Field(2e-4, gt=0, description="Learning rate of the discriminator (Adam).")
    gan_betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas of both nets (as DCGAN).")
    gan_gp_weight: float = Field(10.0, ge=0, description="wgan_gp: weight of the gradient penalty.")
    gan_n_critic: int | None = Field(
        None, ge=1, description="Discriminator steps per generator step; default 5 for wgan_gp, 1 otherwise."
    )
    gan_ema: float = Field(
        0.999, ge=0, lt=1, description="Samples come from a moving average of the generator's weights (0: off)."
    )


class CustomConfig(ModelConfig):
    """``custom``: the user's builder. Any other key is passed to it as written (``config.hidden``), unchecked:
    for keys with types, defaults and did-you-mean, register an architecture with a config class instead."""

    model_config = ConfigDict(extra="allow")
    name: str = architecture_name("custom")
    builder: str | None = Field(
        None,
        description="'package.module:function' or 'file.py:function' (beside the config file) returning an "
        "nn.Module from (spec[, config]).",
    )


class AutoModelConfig(  # the keys in the order of these bases, last first
    TransformerConfig, TextRNNConfig, RNNConfig, ConvConfig, NGramConfig, TabMConfig, MLPConfig
):  # fmt: skip
    """``auto``: the keys of every family the rules choose among. Saved and shown with only the keys set (and
    the common ones): a key set asks for its family, so a round trip must not set them all."""

    size_keys: ClassVar[tuple[str, ...]] = ()
    name: str = architecture_name("auto")

    @model_serializer(mode="wrap")
    def _set_keys_only(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if k in COMMON_KEYS or k in self.model_fields_set}


# name -> its class (the registry's built-in entries)
