"""Text classifiers and regressors over token ids: ``text_rnn`` (LSTM/GRU) and ``transformer`` (encoder).

Both take ``ids`` of shape (batch, seq_len): [CLS] first, then the text's tokens, then padding 0 at the end.
Padding never reaches a result: the RNN packs each text to its length, the transformer masks padded keys,
and pooling skips padded positions. Each batch is first cut to its longest text, so short texts cost less.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deepfit.config import AutoModelConfig, TextRNNConfig, TrainConfig, TransformerConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.models.init import init_weights
from deepfit.models.select import describe_choice, register_rule, register_training, within_budget

PAD = 0
NGRAM_BELOW = 2_500  # training texts below which model.name auto picks the ngram bag (docs/text.md: measured)
TRANSFORMER_FROM = 5_000  # training texts from which model.name auto picks a transformer over a GRU
RNN_KEYS = frozenset({"rnn_type", "rnn_hidden", "rnn_layers", "bidirectional"})
TRANSFORMER_KEYS = frozenset({"d_model", "heads", "layers", "ff_dim", "positional"})


def _trim(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``ids`` cut to the batch's longest text, and each text's length ([CLS] included, so at least 1)."""
    lengths = ids.ne(PAD).sum(1).clamp(min=1)
    if torch.compiler.is_exporting():  # an exported graph keeps the padded width (padding is masked anyway)
        return ids, lengths
    return ids[:, : int(lengths.max())], lengths  # one host sync per batch: the width must be known


def _pool(states: torch.Tensor, lengths: torch.Tensor, how: str) -> torch.Tensor:
    """Mean or max over each text's real positions (batch, time, features) -> (batch, features)."""
    mask = torch.arange(states.shape[1], device=states.device)[None, :] < lengths[:, None]
    if how == "max":
        return states.masked_fill(~mask[..., None], float("-inf")).amax(1)
    return (states * mask[..., None]).sum(1) / lengths[:, None].to(states.dtype)


class TextRNN(nn.Module):
    """Token embedding → (bi)LSTM/GRU over each text's real tokens → last state, mean or max → Linear."""

    def __init__(
        self,
        vocab_size: int,
        n_outputs: int,
        *,
        embedding_dim: int = 128,
        hidden: int = 128,
        layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pooling, self.cell = pooling, cell
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(
            embedding_dim,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids, lengths = _trim(ids)
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.pooling == "last":
            h = state[0] if self.cell == "lstm" else state  # (layers * directions, batch, hidden)
            directions = 2 if self.rnn.bidirectional else 1
            pooled = torch.cat(list(h[-directions:]), dim=1)  # the top layer: forward end and backward start
        else:
            states, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
            pooled = _pool(states, lengths, self.pooling)
        return self.head(self.dropout(pooled))


def sinusoids(length: int, width: int) -> torch.Tensor:
    """The fixed position encoding of "Attention is all you need": sin and cos at geometric frequencies."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class TextTransformer(nn.Module):
    """Token + position embedding → pre-norm Transformer encoder (padded keys masked) → [CLS] or mean → Linear."""

    def __init__(
        self,
        vocab_size: int,
        n_outputs: int,
        max_len: int,
        *,
        d_model: int = 128,
        heads: int = 4,
        layers: int = 2,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        activation: str = "relu",
        positional: str = "sinusoidal",
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        if positional == "learned":
            self.position = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:  # not saved with the weights: it is the same function of the length every time
            self.register_buffer("position", sinusoids(max_len, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff_dim or 2 * d_model, dropout, activation, batch_first=True, norm_first=True
        )
        # pre-norm layers leave the last one's output unnormalised: the final LayerNorm does it
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, n_outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids, lengths = _trim(ids)
        x = self.dropout(self.embedding(ids) + self.position[: ids.shape[1]])
        x = self.encoder(x, src_key_padding_mask=ids.eq(PAD))
        pooled = x[:, 0] if self.pooling == "cls" else _pool(x, lengths, "mean")
        return self.head(self.dropout(pooled))


# ---------------------------------------------------------------- builders
def require_text_spec(spec: DataSpec, name: str) -> None:
    """Refuse data other than token ids of text (every text architecture's builder calls this)."""
    if spec.vocab_size < 1 or not spec.input_shape:
        raise ConfigError(
            f"model.name: {name} reads token ids of text data; this data is {spec.kind}",
            hint="use data.kind: text with a text column, or another architecture",
        )


def build_text_rnn(spec: DataSpec, config: TextRNNConfig) -> TextRNN:
    require_text_spec(spec, "text_rnn")
    pooling = "max" if config.pooling == "auto" else config.pooling
    if pooling == "cls":
        raise ConfigError("model.pooling: cls is for the transformer", hint="text_rnn pools with last, mean or max")
    model = TextRNN(
        spec.vocab_size,
        spec.n_outputs,
        embedding_dim=config.embedding_dim or 128,
        hidden=config.rnn_hidden,
        layers=config.rnn_layers,
        cell=config.rnn_type,
        bidirectional=config.bidirectional,
        pooling=pooling,
        dropout=config.dropout,
    )
    init_weights(model.head, config.init, "relu")  # the recurrent weights keep PyTorch's scheme for their cell
    return model


def build_transformer(spec: DataSpec, config: TransformerConfig) -> TextTransformer:
    require_text_spec(spec, "transformer")
    if config.d_model % config.heads:
        raise ConfigError(
            f"model.d_model ({config.d_model}) must be a multiple of model.heads ({config.heads})",
            hint=f"for example model.d_model: {config.heads * max(1, round(config.d_model / config.heads))}",
        )
    if config.pooling not in ("auto", "cls", "mean"):
        raise ConfigError(f"model.pooling: {config.pooling} is for text_rnn", hint="transformer pooling is cls or mean")
    if config.activation not in ("relu", "gelu"):
        raise ConfigError(f"model.activation: the transformer uses relu or gelu, not {config.activation}")
    model = TextTransformer(
        spec.vocab_size,
        spec.n_outputs,
        spec.input_shape[0],
        d_model=config.d_model,
        heads=config.heads,
        layers=config.layers,
        ff_dim=config.ff_dim,
        dropout=config.dropout,
        activation=config.activation,
        positional=config.positional,
        pooling="mean" if config.pooling == "auto" else config.pooling,
    )
    init_weights(model, config.init, config.activation)
    return model


# ---------------------------------------------------------------- model.name: auto
def text_rule(spec: DataSpec, config: AutoModelConfig) -> tuple[dict[str, Any], str]:
    """The ngram bag below 2,500 training texts, a bidirectional GRU below 5,000, then a transformer (deeper
    from 50,000). Recurrent or transformer keys set with auto ask for that family at any size."""
    n = max(spec.n_train, 1)
    asked = config.model_fields_set  # keys of one family, set with auto, ask for that family
    family = (
        "text_rnn"
        if asked & RNN_KEYS
        else "transformer"
        if asked & TRANSFORMER_KEYS
        else "ngram"
        if n < NGRAM_BELOW
        else "transformer"
        if n >= TRANSFORMER_FROM
        else "text_rnn"
    )
    if family == "ngram":
        candidates = [
            {"name": "ngram", "embedding_dim": d, "ngram_buckets": b} for d, b in ((32, 16_384), (16, 4_096), (8, 0))
        ]
    elif family == "transformer":
        depth = 4 if n >= 50_000 else 2
        widths = (256, 128, 64, 32, 16) if n >= 50_000 else (128, 64, 32, 16)
        candidates = [
            {"name": "transformer", "d_model": d, "heads": 4, "layers": depth, "ff_dim": 2 * d, "pooling": "mean"}
            for d in widths
        ]
    else:
        widths = (128, 64, 32, 16)
        candidates = [
            {"name": "text_rnn", "rnn_type": "gru", "embedding_dim": w, "rnn_hidden": w, "bidirectional": True}
            | {"pooling": "max", "rnn_layers": 1}
            for w in widths
        ]
    updates, params = within_budget(candidates, spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    if updates["name"] == "ngram":
        shape = describe_choice(config.model_copy(update=updates))
    elif updates["name"] == "transformer":
        shape = f"transformer d_model {updates['d_model']}, {updates['layers']} layers"
    else:
        shape = f"bidirectional GRU {updates['rnn_hidden']}"
    reason = f"text {spec.task} with {n:,} training texts → {shape} ({params:,} parameters{budget})"
    return updates, reason


def ngram_training(spec: DataSpec, train: TrainConfig) -> tuple[dict[str, Any], str]:
    """The bag of embeddings learns fast and overfits soon after: a 10x larger rate than the general default
    (fastText trains its bag with a large rate too), fewer epochs, patience 5."""
    return {"lr": 1e-2, "epochs": 40, "early_stopping.patience": 5}, "the ngram bag's recipe"


register_rule("text", text_rule)
register_training("ngram", ngram_training)
