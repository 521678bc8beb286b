from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deepfit.config import CleanConfig, DataConfig, PreprocessConfig
from deepfit.data.clean import summarize
from deepfit.data.schema import infer_kind, infer_schema
from deepfit.data.tabular.preprocess import TabularPreprocessor
from deepfit.data.words import HASH_BUCKETS, fit_text_features, grams, hashed_words, text_features

WORDS = [
    "red",
    "green",
    "blue",
    "quiet",
    "loud",
    "small",
    "large",
    "old",
    "new",
    "warm",
    "cold",
    "bright",
    "dark",
    "soft",
    "hard",
    "fast",
    "slow",
]


def reviews(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(4, 12))) for _ in range(n)]


def test_free_text_vs_identifiers_vs_categoricals() -> None:
    n = 200
    frame = pd.DataFrame(
        {
            "review": reviews(n),
            "customer": [f"C{i:05d}" for i in range(n)],  # a single token per row: an identifier
            "city": np.random.default_rng(1).choice(["New York City", "Los Angeles Metro Area", "San Jose"], n),
            "y": [0, 1] * (n // 2),
        }
    )
    assert infer_kind(frame["review"]) == "text"
    assert infer_kind(frame["city"]) == "categorical"  # several words, but the same few values
    schema = infer_schema(frame, DataConfig(target="y"), "y")
    assert schema.kinds == {"review": "text", "city": "categorical"}
    assert "identifier" in schema.dropped["customer"]
    forced = infer_schema(frame, DataConfig(target="y", column_types={"review": "categorical"}), "y")
    assert forced.kinds["review"] == "categorical"
    assert infer_schema(frame, DataConfig(target="y", column_types={"city": "text"}), "y").kinds["city"] == "text"


def test_hashed_word_features() -> None:
    assert grams("The cat, the hat") == ["the", "cat", "the", "hat", "the cat", "cat the", "the hat"]
    x = hashed_words(pd.Series(["the cat sat", None, "The the", "the cat sat"]), 64)  # no collision among these
    assert x.shape == (4, 64)
    assert np.linalg.norm(x, axis=1) == pytest.approx([1, 0, 1, 1])  # L2-normalised; missing text: zeros
    assert x[0] == pytest.approx(x[3])  # stable: no per-process hash seed
    assert np.count_nonzero(x[2]) == 2  # "the" (twice) and "the the"
    the = np.flatnonzero(x[2])
    assert sorted(x[2, the] / x[2, the].max()) == pytest.approx(sorted([np.log1p(1) / np.log1p(2), 1.0]))


def test_text_column_is_a_fixed_number_of_features_at_training_and_prediction() -> None:
    frame = pd.DataFrame({"review": reviews(100), "x": np.linspace(0, 1, 100) ** 2, "y": np.arange(100.0)})
    schema = infer_schema(frame, DataConfig(target="y"), "y")
    pre = TabularPreprocessor(PreprocessConfig(text_features=64), CleanConfig().numeric_impute).fit(frame, schema)
    assert pre.n_features == 1 + 64
    (x,) = TabularPreprocessor.from_dict(pre.to_dict()).transform(frame.assign(review=frame["review"].astype(object)))
    assert x.shape == (100, 65)
    assert pre.transform(frame)[0].tolist() == x.tolist()
    report = {"rows_in": 100, "rows_out": 100, "columns": schema.kinds, **pre.feature_report()}
    (line,) = [line for line in summarize(report) if line.startswith("column 'review'")]
    assert line.startswith("column 'review': free text → 64 word features (tf-idf of words and word pairs, ")


def test_text_features_are_fitted_on_train_and_carry_the_words_signal() -> None:
    """Two topics of words: the projection fitted on the training rows separates unseen rows by topic, and a
    saved state (JSON) gives the same features."""
    rng = np.random.default_rng(3)
    topics = [WORDS[:8], WORDS[8:]]

    def corpus(n: int) -> tuple[pd.Series, np.ndarray]:
        labels = rng.integers(0, 2, n)
        texts = [" ".join(rng.choice(topics[t], size=rng.integers(4, 9))) for t in labels]
        return pd.Series(texts), labels

    train, train_y = corpus(300)
    state = fit_text_features(train, 8)
    assert len(state["mean"]) == 8 and len(state["components"][0]) == HASH_BUCKETS
    x = text_features(train, state)
    assert x.mean(axis=0) == pytest.approx(np.zeros(8), abs=1e-5)  # standardised on train
    assert x.std(axis=0) == pytest.approx(np.ones(8), abs=1e-4)
    test, test_y = corpus(200)
    fitted = text_features(test, json.loads(json.dumps(state)))
    from sklearn.linear_model import LogisticRegression

    accuracy = LogisticRegression().fit(x, train_y).score(fitted, test_y)
    assert accuracy > 0.95
    missing = text_features(pd.Series([None, ""]), state)
    assert missing.shape == (2, 8) and np.isfinite(missing).all()


def test_runs_saved_before_the_projection_still_read_hashed_words() -> None:
    frame = pd.DataFrame({"review": reviews(60), "y": np.arange(60.0)})
    schema = infer_schema(frame, DataConfig(target="y"), "y")
    pre = TabularPreprocessor(PreprocessConfig(), CleanConfig().numeric_impute).fit(frame, schema)
    old = pre.to_dict()
    old["state"]["text"] = {"columns": ["review"], "buckets": 16}  # the state such runs saved
    loaded = TabularPreprocessor.from_dict(old)
    assert loaded.n_features == 16
    assert loaded.transform(frame)[0].numpy() == pytest.approx(hashed_words(frame["review"], 16), abs=1e-6)
