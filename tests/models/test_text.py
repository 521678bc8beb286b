"""text_rnn and transformer: they learn a keyword task, ignore padding, and are chosen and sized by model.name auto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from deepfit.config import ModelConfig, load_config
from deepfit.data.pipeline import prepare
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.evaluation.evaluate import predict_outputs
from deepfit.models.select import resolve_model
from deepfit.models.text import TextRNN, TextTransformer, build_text_rnn, build_transformer, sinusoids
from deepfit.predictor import build_model
from deepfit.training.trainer import Trainer
from tests.data.test_text import keyword_frame

TINY_RNN = {"embedding_dim": 16, "rnn_hidden": 16, "dropout": 0.0}
TINY_TRANSFORMER = {"d_model": 32, "heads": 4, "layers": 1, "ff_dim": 64, "dropout": 0.0}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def text_case(model: dict[str, Any]) -> Any:
    """A conformance case (tests/models/test_conformance.py): tiny keyword reviews, raw texts to predict."""

    def case(tmp_path: Path) -> tuple[dict[str, Any], Any]:
        path = tmp_path / "reviews.csv"
        keyword_frame(120).to_csv(path, index=False)
        config = {"data": {"source": str(path), "target": "label", "text": {"text_column": "review"}}, "model": model}
        return config, pd.DataFrame({"review": ["a good film", "it was awful", "seen before", "very bad and great"]})

    return case


def spec(vocab: int = 50, length: int = 20, n_train: int = 100) -> DataSpec:
    return DataSpec(
        task="classification",
        n_features=length,
        n_outputs=2,
        kind="text",
        input_shape=[length],
        vocab_size=vocab,
        n_train=n_train,
    )


@pytest.mark.parametrize(
    "model",
    [
        {"name": "text_rnn", "rnn_type": "lstm", "pooling": "last"},
        {"name": "text_rnn", "rnn_type": "gru", "pooling": "max", "bidirectional": False},
        {"name": "text_rnn", "rnn_type": "gru", "pooling": "mean", "rnn_layers": 2},
        {"name": "transformer", "pooling": "cls", "positional": "sinusoidal"},
        {"name": "transformer", "pooling": "mean", "positional": "learned"},
    ],
    ids=["lstm-last", "gru-max", "gru2-mean", "transformer-cls", "transformer-mean-learned"],
)
def test_learns_keyword_sentiment(model: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    keyword_frame(400).to_csv(path, index=False)
    size = TINY_RNN if model["name"] == "text_rnn" else TINY_TRANSFORMER
    config = load_config(
        {
            "data": {"source": str(path), "target": "label", "text": {"text_column": "review", "tokenizer": "word"}},
            "model": {**size, **model},
            "train": {"epochs": 8, "batch_size": 16, "lr": 0.005, "diagnostics": {"enabled": False}},
        }
    )
    prepared = prepare(config)
    torch.manual_seed(0)
    net = build_model(config.model, prepared.spec)
    Trainer(config.train).fit(net, prepared.tensors["train"], prepared.tensors["validation"])
    test = prepared.tensors["test"]
    accuracy = (predict_outputs(net, test.inputs, 256).argmax(1) == test.target).float().mean().item()
    assert accuracy >= 0.95


@pytest.mark.parametrize(
    "net",
    [
        TextRNN(50, 2, embedding_dim=8, hidden=8, pooling="last"),
        TextRNN(50, 2, embedding_dim=8, hidden=8, cell="gru", pooling="mean"),
        TextRNN(50, 2, embedding_dim=8, hidden=8, pooling="max", layers=2),
        TextTransformer(50, 2, 30, d_model=16, heads=2, layers=2, pooling="cls"),
        TextTransformer(50, 2, 30, d_model=16, heads=2, layers=1, pooling="mean", positional="learned"),
    ],
    ids=["lstm-last", "gru-mean", "lstm2-max", "transformer-cls", "transformer-mean"],
)
def test_padding_never_changes_the_output(net: torch.nn.Module) -> None:
    torch.manual_seed(0)
    texts = [[2, 5, 9, 11], [2, 7], [2, 3, 4, 5, 6, 7, 8, 9]]
    batch = torch.zeros(3, 30, dtype=torch.int64)
    for i, ids in enumerate(texts):
        batch[i, : len(ids)] = torch.tensor(ids)
    net.eval()
    with torch.no_grad():
        together = net(batch)
        alone = torch.cat([net(torch.tensor([ids])) for ids in texts])  # no padding at all
        narrow = net(batch[:, :10])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together, narrow, atol=1e-5, rtol=1e-4)


def test_sinusoids() -> None:
    table = sinusoids(16, 8)
    assert table.shape == (16, 8)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table.abs().max() <= 1.0


# ---------------------------------------------------------------- model.name: auto
def test_auto_picks_a_gru_for_few_texts_and_a_transformer_for_many() -> None:
    few, reason = resolve_model(ModelConfig(), spec(vocab=2000, n_train=1_200))
    assert few.name == "text_rnn" and few.rnn_type == "gru" and few.rnn_hidden == 128
    assert reason.startswith("text classification with 1,200 training texts → bidirectional GRU 128")
    many, reason = resolve_model(ModelConfig(), spec(vocab=2000, n_train=8_000))
    assert many.name == "transformer" and many.d_model == 128 and "transformer d_model 128" in reason


def test_auto_honours_max_params_and_the_user_settings() -> None:
    small, reason = resolve_model(ModelConfig(max_params=50_000), spec(vocab=2000, n_train=8_000))
    assert sum(p.numel() for p in build_model(small, spec(vocab=2000)).parameters()) <= 50_000
    assert "within model.max_params=50,000" in reason
    chosen, _ = resolve_model(ModelConfig(heads=2), spec(vocab=2000, n_train=8_000))
    assert chosen.heads == 2


# ---------------------------------------------------------------- bad config
def test_heads_must_divide_d_model() -> None:
    with pytest.raises(ConfigError, match=r"model.d_model \(30\) must be a multiple of model.heads \(4\)"):
        build_transformer(spec(), ModelConfig(name="transformer", d_model=30, heads=4))


def test_pooling_must_suit_the_architecture() -> None:
    with pytest.raises(ConfigError, match=r"model\.pooling: cls is for the transformer"):
        build_text_rnn(spec(), ModelConfig(name="text_rnn", pooling="cls"))
    with pytest.raises(ConfigError, match=r"model\.pooling: max is for text_rnn"):
        build_transformer(spec(), ModelConfig(name="transformer", pooling="max"))


def test_text_models_need_text_data() -> None:
    tabular = DataSpec(task="classification", n_features=4, n_outputs=3)
    with pytest.raises(ConfigError, match="text_rnn reads token ids of text data; this data is tabular"):
        build_text_rnn(tabular, ModelConfig(name="text_rnn"))
