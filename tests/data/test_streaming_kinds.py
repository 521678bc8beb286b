"""Text (and image CSVs of paths) streamed from disk: the streamed fit equals the in-memory one, runs train and
predict, and a run cut mid-epoch resumes exactly (docs/streaming.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import deepfit
from deepfit.cli import main
from deepfit.config import load_config
from deepfit.data.pipeline import prepare
from deepfit.data.stream.reader import StreamData
from deepfit.data.stream.rows import SPLIT_CODES
from deepfit.data.text.preprocess import TextPreprocessor, texts_of
from deepfit.training.checkpoint import load_checkpoint
from deepfit.training.trainer import TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread, and a core for the prefetch thread

GOOD, BAD = ["good great fine lovely", "wonderful nice superb"], ["bad awful poor", "terrible horrid nasty"]
FILLER = "the a movie film plot actor scene was is very quite an entirely".split()


def reviews(n: int, seed: int = 0) -> pd.DataFrame:
    """Short reviews whose label shows in their words, with a few empty texts and missing labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = (GOOD if i % 2 else BAD)[rng.integers(2)].split()
        rows.append((" ".join(rng.choice(FILLER + words, size=rng.integers(4, 30))), "pos" if i % 2 else "neg"))
    frame = pd.DataFrame(rows, columns=["review", "label"])
    frame.loc[rng.random(n) < 0.02, "review"] = "  "
    frame.loc[rng.random(n) < 0.02, "label"] = None
    return frame


def text_config(source: Path, model: str = "ngram", **data: Any) -> dict[str, Any]:
    stream = {"chunk_rows": 128, "shuffle_buffer": 150, "cache_dir": str(source.parent / "cache")}
    return {
        "data": {"source": str(source), "target": "label", "kind": "text", "streaming": True, "stream": stream, **data},
        "model": {"name": model},
        "train": {"epochs": 3, "batch_size": 32, "diagnostics": {"enabled": False}},
        "eval": {"baselines": False},
        "output": {"report": False},
    }


def train_rows(prepared: Any) -> pd.DataFrame:
    """The training split as the stream decides it, read whole (for comparisons with the in-memory fit)."""
    stream = prepared.tensors["train"]
    frame = pd.read_parquet(stream.path)
    frame = frame[stream.rule.usable(frame)]
    return frame[stream.rule.codes(frame)[0] == SPLIT_CODES["train"]]


@pytest.mark.parametrize("tokenizer", ["bpe", "wordpiece", "word"])
def test_streamed_text_state_equals_the_in_memory_fit_of_the_same_rows(tmp_path: Path, tokenizer: str) -> None:
    path = tmp_path / "t.csv"
    reviews(900).to_csv(path, index=False)
    cfg = load_config(text_config(path, text={"tokenizer": tokenizer, "vocab_size": 60, "max_length": 20}))
    prepared = prepare(cfg)
    assert isinstance(prepared.tensors["train"], StreamData) and prepared.spec.kind == "text"
    rows = train_rows(prepared)
    assert len(rows) == len(prepared.tensors["train"]) and 550 < len(rows) < 700  # 70 % of ~865 usable rows
    rows = rows.assign(review=texts_of(rows["review"], "review", "t"))  # cleaned as the in-memory path cleans
    expected = TextPreprocessor(cfg.data.text).fit(rows, column="review", target="label", task="classification")
    assert prepared.preprocessor.state == expected.state
    assert expected.state["truncated_train_texts"] > 0 and expected.state["seq_len"] == 20  # texts were cut
    # the stream's batches are the rows tokenized by that state
    (ids,), y = next(prepared.tensors["train"].batches(len(rows)))
    assert torch.equal(ids, expected.transform(rows)[0]) and torch.equal(y, expected.transform_target(rows.label)[0])
    report = prepared.report
    assert report["rows_in"] == 900 and report["empty_texts"]["count"] > 0 and report["tokenizer"]["vocab_size"] <= 60


def test_streamed_regression_target_has_the_exact_training_moments(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    frame = reviews(600)
    frame["label"] = frame["review"].str.len().astype(float)
    frame.to_parquet(path)
    prepared = prepare(load_config(text_config(path)))
    rows = train_rows(prepared)
    state = prepared.preprocessor.state
    assert state["task"] == "regression"
    np.testing.assert_allclose([state["target_mean"], state["target_std"]], [rows.label.mean(), rows.label.std(ddof=0)])


@pytest.mark.parametrize("model", ["ngram", "text_rnn", "transformer"])
def test_a_streamed_text_run_learns_and_predicts_as_its_model_does(tmp_path: Path, model: str) -> None:
    path = tmp_path / "t.csv"
    reviews(800).to_csv(path, index=False)
    result = deepfit.train(text_config(path, model), run_dir=tmp_path / "run", quiet=True)
    assert result.metrics["test"]["accuracy"] > 0.8
    new = reviews(40, seed=3).dropna()
    new = new[new.review.str.strip() != ""]
    new.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    loaded = deepfit.load(tmp_path / "run")
    with torch.no_grad():
        logits = loaded.model(*loaded.preprocessor.transform(new))
    expected = [loaded.classes[i] for i in logits.argmax(1).tolist()]
    assert predicted["prediction"].tolist() == expected
    assert (predicted["prediction"] == new["label"].to_numpy()).mean() > 0.8


class InterruptAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, state: Any) -> None:
        if state.step == self.step:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "model" / "weights.pt", weights_only=True)


def test_a_streamed_text_run_cut_mid_epoch_resumes_exactly(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    reviews(700).to_csv(path, index=False)
    cfg = text_config(path, text={"token_dropout": 0.1})  # the augmentation draws from the resumed generator too
    straight = deepfit.train(cfg, run_dir=tmp_path / "straight", quiet=True)
    with pytest.raises(TrainingInterrupted):  # ~475 training rows, batches of 32: 15 a epoch; 20 is in the second
        deepfit.train(cfg, run_dir=tmp_path / "cut", callbacks=[InterruptAt(20)], quiet=True)
    position = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["extra"]["position"]
    assert position["batch"] > 0 and len(position["stream"]["buffer"][0]) == 150
    resumed = deepfit.train(resume=tmp_path / "cut", quiet=True)
    assert resumed.history == straight.history and resumed.metrics == straight.metrics
    for name, tensor in weights(tmp_path / "straight").items():
        assert torch.equal(tensor, weights(tmp_path / "cut")[name]), name
