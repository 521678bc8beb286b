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
FILLER = ["the", "a", "movie", "film", "plot", "actor", "scene", "was", "is", "very", "quite", "an", "entirely"]


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


# ---------------------------------------------------------------- image CSVs of paths
def images(folder: Path, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` 8x8 RGB PNGs, bright ones 'light' and dark ones 'dark', listed by relative path; one is corrupt."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        light = i % 2 == 1
        base = rng.integers(140, 220) if light else rng.integers(30, 110)
        pixels = np.clip(base + rng.normal(0, 25, size=(8, 8, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / "img" / f"{seed}_{i}.png")
        rows.append((f"img/{seed}_{i}.png", "light" if light else "dark"))
    (folder / "img" / f"{seed}_0.png").write_bytes(b"not a png")
    return pd.DataFrame(rows, columns=["path", "label"])


def image_config(source: Path, **data: Any) -> dict[str, Any]:
    config = text_config(source, "cnn", **data)
    config["data"]["kind"] = "image"
    return config


def test_streamed_image_statistics_equal_the_in_memory_fit_of_the_same_rows(tmp_path: Path) -> None:
    from deepfit.data.image.decode import decode_files
    from deepfit.data.image.preprocess import ImagePreprocessor

    images(tmp_path, 400).to_csv(tmp_path / "i.csv", index=False)
    prepared = prepare(load_config(image_config(tmp_path / "i.csv")))
    stream = prepared.tensors["train"]
    assert isinstance(stream, StreamData) and prepared.spec.input_shape == [3, 8, 8]
    assert prepared.report["failures"][0]["path"].endswith("0_0.png")  # the corrupt file is named, and skipped
    rows = train_rows(prepared)
    assert len(rows) == len(stream) and 240 < len(rows) < 320
    paths = [str(tmp_path / p) for p in rows.path]
    decoded = decode_files(paths, size=(8, 8), mode="rgb")
    expected = ImagePreprocessor(size=(8, 8), mode="rgb").fit(decoded.pixels, rows.label)
    got = prepared.preprocessor.state
    np.testing.assert_allclose(got["mean"], expected.state["mean"], rtol=1e-12)
    np.testing.assert_allclose(got["std"], expected.state["std"], rtol=1e-12)
    assert got["classes"] == expected.state["classes"] == ["dark", "light"]
    (x,), y = next(stream.batches(len(rows)))  # batches are the files decoded and normalised by that state
    assert torch.equal(x, expected.normalize(decoded.pixels)) and torch.equal(
        y, expected.transform_target(rows.label)[0]
    )


def test_an_image_folder_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from deepfit.errors import ConfigError

    images(tmp_path, 2)
    with pytest.raises(ConfigError, match="a table of image paths, not a folder") as info:
        prepare(load_config(image_config(tmp_path / "img")))
    assert "data.streaming: false" in str(info.value.hint)


def test_a_streamed_image_run_learns_predicts_and_resumes_exactly(tmp_path: Path) -> None:
    images(tmp_path, 500).to_csv(tmp_path / "i.csv", index=False)
    cfg = image_config(tmp_path / "i.csv", augment={"flip": True})
    cfg["train"]["epochs"] = 2
    straight = deepfit.train(cfg, run_dir=tmp_path / "straight", quiet=True)
    assert straight.metrics["test"]["accuracy"] > 0.9
    with pytest.raises(TrainingInterrupted):  # ~350 training images, batches of 32: 11 an epoch
        deepfit.train(cfg, run_dir=tmp_path / "cut", callbacks=[InterruptAt(15)], quiet=True)
    resumed = deepfit.train(resume=tmp_path / "cut", quiet=True)
    assert resumed.history == straight.history and resumed.metrics == straight.metrics
    for name, tensor in weights(tmp_path / "straight").items():
        assert torch.equal(tensor, weights(tmp_path / "cut")[name]), name
    new = images(tmp_path / "new", 20, seed=4).iloc[1:]
    new.to_csv(tmp_path / "new" / "new.csv", index=False)
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "cut"), str(tmp_path / "new" / "new.csv"), "-o", str(out)]) == 0
    loaded = deepfit.load(tmp_path / "cut")
    with torch.no_grad():
        logits = loaded.model(*loaded.preprocessor.transform([str(tmp_path / "new" / p) for p in new.path]))
    assert pd.read_csv(out)["prediction"].tolist() == [loaded.classes[i] for i in logits.argmax(1).tolist()]
    assert (pd.read_csv(out)["prediction"] == new["label"].to_numpy()).mean() > 0.9


def test_the_streaming_text_example_runs_as_documented(tmp_path: Path) -> None:
    """examples/streaming_text.yaml on what examples/make_text.py writes (fewer rows, three epochs)."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "data" / "reviews_big.csv"
    make = [sys.executable, str(ROOT / "examples" / "make_text.py"), "--rows", "1500", "--out", str(out)]
    subprocess.run(make, check=True, capture_output=True)
    shutil.copy(ROOT / "examples" / "streaming_text.yaml", tmp_path / "streaming_text.yaml")
    overrides = {"train.epochs": 3, "data.stream.cache_dir": str(tmp_path / "cache"), "output.report": False}
    result = deepfit.train(tmp_path / "streaming_text.yaml", run_dir=tmp_path / "run", overrides=overrides, quiet=True)
    assert result.metrics["test"]["accuracy"] > 0.6  # balanced classes: it learns
    assert "streamed from disk (data.streaming: true)" in (tmp_path / "run" / "data_report.json").read_text()
