"""text_rnn and transformer: they learn a keyword task, ignore padding, and are chosen and sized by model.name auto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import ModelConfig, load_config
from deepfit.data.pipeline import prepare
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.evaluation.evaluate import predict_outputs
from deepfit.models.ngram import NGramBag, bigram_ids
from deepfit.models.registry import build_model
from deepfit.models.select import resolve_model
from deepfit.models.text import TextRNN, TextTransformer, build_text_rnn, build_transformer, sinusoids
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
        NGramBag(50, 2, embedding_dim=8, buckets=64),
    ],
    ids=["lstm-last", "gru-mean", "lstm2-max", "transformer-cls", "transformer-mean", "ngram"],
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


def train_ngram(frame: pd.DataFrame, tmp_path: Path, **model: Any) -> float:
    """Test accuracy of the ngram bag trained on ``frame`` (review, label) with a word tokenizer."""
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    config = load_config(
        {
            "data": {"source": str(path), "target": "label", "text": {"text_column": "review", "tokenizer": "word"}},
            "model": {"name": "ngram", "embedding_dim": 16, "dropout": 0.0, **model},
            "train": {"epochs": 10, "batch_size": 16, "lr": 0.02, "diagnostics": {"enabled": False}},
        }
    )
    prepared = prepare(config)
    torch.manual_seed(0)
    net = build_model(config.model, prepared.spec)
    Trainer(config.train).fit(net, prepared.tensors["train"], prepared.tensors["validation"])
    test = prepared.tensors["test"]
    return (predict_outputs(net, test.inputs, 256).argmax(1) == test.target).float().mean().item()


def test_ngram_learns_keyword_sentiment(tmp_path: Path) -> None:
    assert train_ngram(keyword_frame(400), tmp_path) >= 0.95


def test_ngram_bigrams_tell_apart_texts_of_the_same_words(tmp_path: Path) -> None:
    # "good, not bad" and "bad, not good": the same bag of words, told apart only by their bigrams
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        first, second = ("good", "bad") if i % 2 == 0 else ("bad", "good")
        filler = " ".join(rng.choice(["the", "film", "plot", "was", "really", "quite"], size=int(rng.integers(2, 6))))
        rows.append({"review": f"{filler} {first} , not {second}", "label": "pos" if i % 2 == 0 else "neg"})
    frame = pd.DataFrame(rows)
    assert train_ngram(frame, tmp_path, ngram_buckets=256) >= 0.95
    assert train_ngram(frame, tmp_path, ngram_buckets=0) <= 0.7  # words alone: chance


def test_bigram_ids_are_deterministic_and_skip_padding() -> None:
    ids = torch.tensor([[2, 5, 9, 11, 0, 0], [2, 9, 11, 0, 0, 0]])
    pairs = bigram_ids(ids, vocab_size=50, buckets=64)
    assert pairs.shape == (2, 5)
    assert (pairs[0, 3:] == 0).all() and (pairs[1, 2:] == 0).all()  # a pair touching padding is padding
    real = pairs[pairs != 0]
    assert ((real >= 50) & (real < 50 + 64)).all()
    assert pairs[0, 2] == pairs[1, 1]  # (9, 11): the same pair, the same bucket, anywhere
    assert bigram_ids(torch.tensor([[5, 9], [9, 5]]), 50, 64)[:, 0].unique().numel() == 2  # order matters
    torch.testing.assert_close(pairs, bigram_ids(ids.clone(), 50, 64))
    # fixed values: a change to the hash would silently change what saved models read
    assert bigram_ids(torch.tensor([[2, 5, 9]]), 50, 64).tolist() == [[51, 56]]


def test_sinusoids() -> None:
    table = sinusoids(16, 8)
    assert table.shape == (16, 8)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table.abs().max() <= 1.0


# ---------------------------------------------------------------- model.name: auto
def test_auto_picks_a_gru_for_few_texts_and_a_transformer_for_many() -> None:
    few, reason = resolve_model(ModelConfig(), spec(vocab=2000, n_train=3_000))
    assert few.name == "text_rnn" and few.rnn_type == "gru" and few.rnn_hidden == 128
    assert reason.startswith("text classification with 3,000 training texts → bidirectional GRU 128")
    asked, _ = resolve_model(ModelConfig(rnn_hidden=32), spec(vocab=2000, n_train=600))  # an RNN key: an RNN
    assert asked.name == "text_rnn" and asked.rnn_hidden == 32
    many, reason = resolve_model(ModelConfig(), spec(vocab=2000, n_train=8_000))
    assert many.name == "transformer" and many.d_model == 128 and "transformer d_model 128" in reason


def test_auto_picks_the_ngram_bag_for_a_small_corpus() -> None:
    chosen, reason = resolve_model(ModelConfig(), spec(vocab=2000, n_train=600))
    assert chosen.name == "ngram" and chosen.embedding_dim == 32 and chosen.ngram_buckets == 16_384
    assert reason.startswith("text classification with 600 training texts → ngram bag of words + 16,384 bigram")
    small, reason = resolve_model(ModelConfig(max_params=50_000), spec(vocab=2000, n_train=600))
    assert sum(p.numel() for p in build_model(small, spec(vocab=2000)).parameters()) <= 50_000
    assert small.name == "ngram" and "within model.max_params=50,000" in reason


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
