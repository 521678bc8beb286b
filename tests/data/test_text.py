"""Text data: cleaning, the tokenizer fitted on train only, ids, token dropout, detection, bad input, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deepfit
from deepfit.cli import main
from deepfit.config import CleanConfig, TextConfig, load_config
from deepfit.data.clean import summarize
from deepfit.data.pipeline import prepare, resolve_kind
from deepfit.data.text.kind import clean_text
from deepfit.data.text.preprocess import TextPreprocessor
from deepfit.data.text.tokenizer import CLS, PAD, UNK, TokenDropout
from deepfit.errors import DataError, DataWarning

FILLER = [
    "the", "a", "this", "that", "movie", "film", "story", "plot", "it", "was", "is", "felt", "seemed", "and", "but",
    "so", "very", "quite", "really", "we", "i", "saw",
]  # fmt: skip
POSITIVE, NEGATIVE = ["good", "great", "lovely"], ["bad", "awful", "poor"]


def keyword_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Reviews of 4 to 11 filler words with one sentiment keyword somewhere: the keyword decides the label."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 12))))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POSITIVE if positive else NEGATIVE)))
        rows.append({"review": " ".join(words), "label": "pos" if positive else "neg"})
    return pd.DataFrame(rows)


def text_config(source: Path | str, **text: object) -> dict[str, object]:
    return {
        "data": {"source": str(source), "target": "label", "text": {"text_column": "review", **text}},
        "model": {"name": "text_rnn", "embedding_dim": 16, "rnn_hidden": 16, "dropout": 0.0},
        "train": {"epochs": 8, "batch_size": 16, "lr": 0.01, "diagnostics": {"enabled": False}},
    }


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    keyword_frame().to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_is_fitted_on_the_training_split_only(tmp_path: Path) -> None:
    frame = keyword_frame(120)
    frame["review"] = [f"{text} w{i}x" for i, text in enumerate(frame["review"])]  # a word of its own per row
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    prepared = prepare(load_config(text_config(path, tokenizer="word", min_frequency=1)))
    vocab = prepared.preprocessor.tokenizer.get_vocab()
    assert "w0x" in vocab or "w1x" in vocab  # some training rows' own words were learned
    test_words = [text.split()[-1] for text in prepared.frames["test"]["review"]]
    assert test_words and not any(word in vocab for word in test_words)
    ids = prepared.tensors["test"].inputs[0]
    lengths = ids.ne(PAD).sum(1)
    assert (ids[torch.arange(len(ids)), lengths - 1] == UNK).all()  # each test text's last word is unknown
    assert prepared.report["tokenizer"]["unknown_token_rate_test"] > 0


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "word"])
def test_saved_tokenizer_gives_the_same_ids(kind: str) -> None:
    frame = keyword_frame(80)
    pre = TextPreprocessor(TextConfig(tokenizer=kind, vocab_size=200, min_frequency=1))
    pre.fit(frame, column="review", target="label", task="classification")
    texts = ["the movie was GREAT", "Café olé: an unseen zebra!", "bad"]
    reloaded = TextPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert torch.equal(pre.transform(texts)[0], reloaded.transform(texts)[0])
    assert reloaded.classes == ["neg", "pos"]
    assert pre.transform(["café"])[0].tolist() == pre.transform(["CAFE"])[0].tolist()  # lowercase, no accents


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "word"])
def test_the_same_texts_train_the_same_tokenizer_every_time(kind: str) -> None:
    """WordPiece training alone is not deterministic upstream (huggingface/tokenizers#1794): ours must be."""
    from deepfit.data.text.tokenizer import train_tokenizer

    texts = [f"{w} {v}ing {w}{v}s un{v}able" for w in ("pre", "post", "mid", "anti") for v in ("mov", "play", "read")]
    config = TextConfig(tokenizer=kind, vocab_size=60, min_frequency=1)
    first = train_tokenizer(texts, config)
    assert all(train_tokenizer(texts, config).to_str() == first.to_str() for _ in range(5))
    assert first.encode("##ing").tokens[1:] != ["##ing"]  # pieces are vocabulary, not special text


def test_truncation_and_padding_lengths() -> None:
    frame = pd.DataFrame({"review": ["one two three four five six seven eight", "one two"] * 10, "label": [0, 1] * 10})
    pre = TextPreprocessor(TextConfig(tokenizer="word", max_length=5, min_frequency=1))
    pre.fit(frame, column="review", target="label", task="classification")
    ids = pre.transform(["one two three four five six seven eight", "two", ""])[0]
    assert ids.shape == (3, 5) and ids.dtype == torch.int64
    assert (ids[:, 0] == CLS).all()
    assert ids[0].ne(PAD).all()  # cut to max_length, [CLS] included
    assert ids[1].tolist()[2:] == [PAD] * 3 and ids[2].tolist()[1:] == [PAD] * 4
    assert pre.state["truncated_train_texts"] == 10

    wide = TextPreprocessor(TextConfig(tokenizer="word", max_length=64, min_frequency=1))
    wide.fit(frame, column="review", target="label", task="classification")
    assert wide.transform(["one"])[0].shape == (1, 9)  # the longest training text (8 words + [CLS])


def test_token_dropout_only_in_training_and_keeps_padding_and_cls(reviews_csv: Path) -> None:
    prepared = prepare(load_config(text_config(reviews_csv, token_dropout=0.5)))
    train, test = prepared.tensors["train"], prepared.tensors["test"]
    assert isinstance(train.augment, TokenDropout) and test.augment is None
    original = train.inputs[0]
    torch.manual_seed(0)
    (dropped,), _ = next(train.batches(len(train), augment=True))
    assert torch.equal(dropped.eq(PAD), original.eq(PAD)) and (dropped[:, 0] == CLS).all()
    changed = dropped.ne(original)
    assert (dropped[changed] == UNK).all()
    words = original.gt(CLS)
    assert 0.4 < changed.sum() / words.sum() < 0.6
    (plain,), _ = next(train.batches(len(train)))  # augment=False: what evaluation uses
    assert torch.equal(plain, original)


# ---------------------------------------------------------------- cleaning
def test_cleaning_reports_empty_duplicate_and_conflicting_texts() -> None:
    frame = keyword_frame(40)
    frame.loc[3, "review"] = "   "
    frame.loc[5, "review"] = None
    extra = pd.DataFrame(
        {"review": [frame.loc[0, "review"], "same words here", "same words here", "same words here"]}
        | {"label": [frame.loc[0, "label"], "pos", "pos", "neg"]}
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    cleaned, report = clean_text(frame, "review", "label", "classification", CleanConfig(conflicts="majority"))
    assert report["empty_texts"] == {"count": 2, "rows": [4, 6]}
    assert report["duplicate_rows"] == 2  # row 0 again, and one "same words here / pos"
    assert report["conflicts"]["groups"] == 1 and report["conflicts"]["rows_removed"] == 1
    assert cleaned["review"].eq("same words here").sum() == 1
    assert report["rows_out"] == len(cleaned) == 40 - 2 + 1

    _, dropped = clean_text(frame, "review", "label", "classification", CleanConfig(conflicts="drop"))
    assert dropped["conflicts"]["rows_removed"] == 2
    lines = summarize(report)
    assert "removed 2 exact duplicate rows" in lines


def test_class_imbalance_is_reported(tmp_path: Path) -> None:
    frame = keyword_frame(200)
    frame = pd.concat([frame[frame["label"] == "pos"], frame[frame["label"] == "neg"].head(20)])
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    report = prepare(load_config(text_config(path))).report
    assert report["target_summary"]["classes"] == {"pos": 100, "neg": 20}
    assert any("imbalanced (largest / smallest = 5.0)" in line for line in summarize(report))


# ---------------------------------------------------------------- detection
def test_free_text_is_detected_and_not_dropped_as_an_identifier(reviews_csv: Path) -> None:
    config = load_config({"data": {"source": str(reviews_csv), "target": "label"}})
    assert resolve_kind(config) == "text"
    prepared = prepare(config)
    assert prepared.spec.kind == "text" and prepared.report["text_column"] == "review"


def test_tables_stay_tabular(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": np.arange(50.0), "color": ["red", "blue"] * 25, "label": [0, 1] * 25}).to_csv(path)
    assert resolve_kind(load_config({"data": {"source": str(path), "target": "label"}})) == "tabular"
    assert resolve_kind(load_config({"data": {"source": "builtin:iris"}})) == "tabular"


def test_regression_target(tmp_path: Path) -> None:
    frame = keyword_frame(60).assign(stars=lambda f: np.where(f["label"] == "pos", 4.5, 1.5))
    path = tmp_path / "r.csv"
    frame.drop(columns="label").to_csv(path, index=False)
    config = text_config(path)
    config["data"]["target"] = "stars"
    prepared = prepare(load_config(config))
    pre = prepared.preprocessor
    assert prepared.spec.task == "regression" and prepared.spec.n_outputs == 1
    train = prepared.frames["train"]["stars"]
    assert pre.classes == [] and pre.state["target_mean"] == pytest.approx(train.mean())  # fitted on train
    assert pre.inverse_target(prepared.tensors["train"].target.numpy())[:, 0] == pytest.approx(train.to_numpy())


# ---------------------------------------------------------------- bad input
def test_missing_text_column_suggests_the_closest(reviews_csv: Path) -> None:
    with pytest.raises(DataError, match=r"text column 'reviews' is not in the data \(did you mean 'review'\?\)"):
        prepare(load_config(text_config(reviews_csv, text_column="reviews")))


def test_all_texts_empty(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame({"review": ["", "  ", None] * 10, "label": [0, 1, 0] * 10}).to_csv(path, index=False)
    with pytest.raises(DataError, match="all 30 texts in column 'review' of the data are empty"):
        prepare(load_config(text_config(path)))


def test_numeric_text_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame({"review": np.arange(30) * 1.5, "label": [0, 1] * 15}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"text column 'review' of the data holds numbers \(such as 0\.0\), not text"):
        prepare(load_config(text_config(path)))


def test_predict_input_without_the_text_column(reviews_csv: Path) -> None:
    pre = prepare(load_config(text_config(reviews_csv))).preprocessor
    with pytest.raises(DataError, match=r"text column 'review' is missing from new.csv \(did you mean 'Review'\?\)"):
        pre.transform(pd.DataFrame({"Review": ["good"]}), source="new.csv")


# ---------------------------------------------------------------- the whole path
def test_train_predict_and_evaluate_from_the_command_line(
    reviews_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = deepfit.train(text_config(reviews_csv, tokenizer="word"), run_dir=tmp_path / "run")
    assert result.metrics["test"]["accuracy"] >= 0.9

    new = tmp_path / "new.csv"
    pd.DataFrame({"review": ["it was a good film", "so awful", ""]}).to_csv(new, index=False)
    assert main(["predict", str(tmp_path / "run"), str(new), "-o", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["prediction", "proba_neg", "proba_pos"]
    assert out["prediction"].tolist()[:2] == ["pos", "neg"]

    lines = tmp_path / "new.txt"
    lines.write_text("a lovely story\n\nthe plot was poor\n", encoding="utf-8")
    with pytest.warns(DataWarning, match=r"new.txt: 1 blank line read as empty texts \(line 2\)"):
        predicted = deepfit.predict(tmp_path / "run", lines)["prediction"].tolist()
    assert len(predicted) == 3 and predicted[0] == "pos" and predicted[2] == "neg"  # a row per line, in order
    assert deepfit.load(tmp_path / "run").predict(["great", "bad"])["prediction"].tolist() == ["pos", "neg"]

    labelled = tmp_path / "labelled.csv"
    keyword_frame(40, seed=1).to_csv(labelled, index=False)
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(labelled), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["accuracy"] >= 0.9


def test_separate_test_file(reviews_csv: Path, tmp_path: Path) -> None:
    test = tmp_path / "test.csv"
    keyword_frame(30, seed=2).assign(review=lambda f: f["review"].where(f.index != 0, "")).to_csv(test, index=False)
    config = text_config(reviews_csv)
    config["data"]["test_source"] = str(test)
    prepared = prepare(load_config(config))
    assert prepared.report["splits"]["test"] == 29  # the empty text is left out
    assert prepared.report["splits"]["train"] + prepared.report["splits"]["validation"] == 240
