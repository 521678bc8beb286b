"""Recurrent networks over sequences of feature vectors: ``rnn`` (vanilla, tanh), ``lstm`` and ``gru``.

Input ``x`` is (batch, steps, features), and for sequences of several lengths ``lengths`` (batch,):
padded steps at the end are packed away, so they never reach the result. The last hidden state of the
top layer (both directions when bidirectional) goes through a linear head: class logits, a value, or a
forecast of ``horizon x targets`` values, flattened step-major.

A forecaster reads its window relative to the window's last point and predicts the change from the
last value of each target: the forecast of a series shifted by c is shifted by c. A trend carries the test
part of a series to levels never seen in training; a model of levels extrapolates there poorly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from deepfit.config import AutoModelConfig, RNNConfig
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.models.init import init_weights
from deepfit.models.select import register_rule, within_budget

CELLS: dict[str, type[nn.RNN | nn.LSTM | nn.GRU]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
LSTM_FROM = 2_000  # training samples from which model.name auto picks an LSTM over a GRU


class SequenceRNN(nn.Module):
    """(bi)RNN / LSTM / GRU → last hidden state of the top layer → dropout → Linear."""

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        cell: str = "lstm",
        hidden: int = 64,
        layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        last_value: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.cell = cell
        # forecasting: the inputs are read relative to their last value, and the forecast is the change from
        # the last value of each target (these feature indices); a level never seen in training is no problem
        self.last_value = last_value
        self.rnn = CELLS[cell](
            n_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,  # PyTorch applies it between layers only
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), n_outputs)
        init_recurrent(self.rnn)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        last = None
        last_value = self.last_value
        if last_value is not None:
            last = x[:, -1:, :]
            x = x - last
        steps: torch.Tensor | PackedSequence = x
        if lengths is not None:
            lengths = lengths.cpu()  # packing wants them on the host: one small copy per batch
            if int(lengths.min()) < x.shape[1]:  # padding to skip (equal lengths need no packing)
                steps = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(steps)
        h = state[0] if self.cell == "lstm" else state  # (layers * directions, batch, hidden)
        directions = 2 if self.rnn.bidirectional else 1
        top = torch.cat(list(h[-directions:]), dim=1)  # top layer: forward's last step, backward's first
        out = self.head(self.dropout(top))
        # (batch, horizon * targets), step-major: the targets' last values, repeated
        if last is not None and last_value is not None:
            out = out + last[:, 0, last_value].repeat(1, out.shape[1] // len(last_value))
        return out


def init_recurrent(rnn: nn.RNNBase) -> None:
    """Xavier input weights, orthogonal recurrent weights (per gate), zero biases; LSTM forget-gate bias 1.

    Orthogonal recurrent matrices keep the state's norm step to step, so gradients neither vanish nor
    explode early on; a forget bias of 1 lets an LSTM remember by default (Jozefowicz et al., 2015).
    """
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[rnn.mode.lower().split("_")[0]]
    hidden = rnn.hidden_size
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            for block in param.data.chunk(gates, 0):
                nn.init.xavier_uniform_(block)
        elif name.startswith("weight_hh"):
            for block in param.data.chunk(gates, 0):
                nn.init.orthogonal_(block)
        elif name.startswith("bias"):
            nn.init.zeros_(param)
            if gates == 4 and name.startswith("bias_ih"):  # gates are input, forget, cell, output
                param.data[hidden : 2 * hidden] = 1.0


def _sequence_spec(spec: DataSpec, name: str) -> None:
    if len(spec.input_shape) != 2:
        raise ConfigError(
            f"model.name: {name} reads sequences of feature vectors; this data is {spec.kind}",
            hint="use data.kind: sequence or timeseries, or another architecture (text: text_rnn)",
        )


def _build(cell: str, spec: DataSpec, config: RNNConfig) -> SequenceRNN:
    _sequence_spec(spec, cell)
    model = SequenceRNN(
        spec.input_shape[1],
        spec.n_outputs,
        cell=cell,
        hidden=config.rnn_hidden,
        layers=config.rnn_layers,
        bidirectional=config.bidirectional,
        dropout=config.dropout,
        last_value=spec.extra.get("target_index") if spec.kind == "timeseries" else None,
    )
    init_weights(model.head, config.init, "tanh")
    return model


def build_rnn(spec: DataSpec, config: RNNConfig) -> SequenceRNN:
    return _build("rnn", spec, config)


def build_lstm(spec: DataSpec, config: RNNConfig) -> SequenceRNN:
    return _build("lstm", spec, config)


def build_gru(spec: DataSpec, config: RNNConfig) -> SequenceRNN:
    return _build("gru", spec, config)


# ---------------------------------------------------------------- model.name: auto
def sequence_rule(spec: DataSpec, config: AutoModelConfig) -> tuple[dict[str, Any], str]:
    """A GRU below 2,000 training samples (fewer parameters per unit), an LSTM from there; two layers from 20,000.

    Forecasts read their window forwards only; whole sequences to classify are read both ways.
    """
    n = max(spec.n_train, 1)
    name = "lstm" if n >= LSTM_FROM else "gru"
    widths = (128, 64, 32, 16) if n >= LSTM_FROM else (64, 32, 16)
    layers = 2 if n >= 20_000 else 1
    bidirectional = spec.kind == "sequence"
    candidates = [{"name": name, "rnn_hidden": w, "rnn_layers": layers, "bidirectional": bidirectional} for w in widths]
    updates, params = within_budget(candidates, spec, config)
    budget = f", within model.max_params={config.max_params:,}" if config.max_params else ""
    shape = f"{'bidirectional ' if bidirectional else ''}{name.upper()} {updates['rnn_hidden']} x {layers} layer(s)"
    what = "forecasting" if spec.kind == "timeseries" else f"sequence {spec.task}"
    reason = f"{what} with {n:,} training samples → {shape} ({params:,} parameters{budget})"
    return updates, reason


register_rule("sequence", sequence_rule)
register_rule("timeseries", sequence_rule)
