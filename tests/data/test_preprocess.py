from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import CleanConfig, DataConfig, PreprocessConfig
from deepfit.data.schema import infer_schema
from deepfit.data.tabular.preprocess import TabularPreprocessor
from deepfit.errors import DataError


def fitted(train: pd.DataFrame, **options) -> TabularPreprocessor:
    schema = infer_schema(train, DataConfig(target="y"), "y")
    return TabularPreprocessor.for_config(PreprocessConfig(**options), CleanConfig()).fit(train, schema)


TRAIN = pd.DataFrame(
    {
        "num": [1.0, 2.0, 3.0, None, 5.0, 6.0],
        "cat": ["a", "b", "a", "c", None, "a"],
        "flag": ["yes", "no", "yes", "yes", "no", None],
        "y": ["u", "v", "u", "v", "u", "v"],
    }
)


def test_statistics_come_from_train_only() -> None:
    pre = fitted(TRAIN)
    num = pre.state["numeric"]
    assert num["fill"] == [3.0]  # median of the training values
    (x,) = pre.transform(TRAIN)
    assert x[:, 0].mean().item() == pytest.approx(0, abs=1e-6)  # standardised on train
    other = TRAIN.assign(num=[100.0] * 6)
    (x_other,) = pre.transform(other)
    assert x_other[0, 0].item() == pytest.approx(
        (100 - np.mean([1, 2, 3, 3, 5, 6])) / np.std([1, 2, 3, 3, 5, 6]), rel=1e-5
    )


def test_missing_cells_of_train_get_an_indicator_feature() -> None:
    pre = fitted(TRAIN)
    assert pre.state["numeric"]["missing"] == ["num"] and pre.n_features == 1 + 1 + 1 + 3
    new = pd.DataFrame({"num": [None, 4.0], "cat": ["a", "a"], "flag": ["no", "no"]})
    (x,) = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict()))).transform(new)
    assert x[:, 1].tolist() == [1.0, 0.0]  # right after the numeric block: was missing, was not
    assert x[0, 0].item() == pytest.approx(pre.transform(new.fillna({"num": 3.0}))[0][0, 0].item())  # imputed
    assert fitted(TRAIN, missing_indicators=False).n_features == 1 + 1 + 3
    assert fitted(TRAIN.fillna({"num": 3.0})).state["numeric"]["missing"] == []  # none missing in train: none


def test_onehot_and_unseen_category() -> None:
    pre = fitted(TRAIN, missing_indicators=False)
    assert pre.n_features == 1 + 1 + 3
    new = pd.DataFrame({"num": [1.0], "cat": ["zebra"], "flag": ["no"]})
    (x,) = pre.transform(new)
    assert x[0, 2:].tolist() == [0.0, 0.0, 0.0]  # unknown category: all zeros
    assert x[0, 1].item() == 0.0


def test_embedding_codes_with_unknown_zero() -> None:
    pre = fitted(TRAIN, categorical="embedding")
    assert pre.cardinalities == [4]  # a, b, c + unknown
    _, x_cat = pre.transform(pd.DataFrame({"num": [1.0, 2.0], "cat": ["b", "zebra"], "flag": ["yes", "no"]}))
    assert x_cat[:, 0].tolist() == [2, 0]


def test_minmax_scaling() -> None:
    pre = fitted(TRAIN, scaling="minmax")
    (x,) = pre.transform(TRAIN.dropna(subset=["num"]))
    assert x[:, 0].min().item() == pytest.approx(0) and x[:, 0].max().item() == pytest.approx(1)


def test_target_encoding_and_round_trip() -> None:
    pre = fitted(TRAIN)
    y, known = pre.transform_target(pd.Series(["v", "u", "w"]))
    assert y.tolist() == [1, 0] and known.tolist() == [True, True, False]
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert torch.equal(again.transform(TRAIN)[0], pre.transform(TRAIN)[0])


def test_missing_feature_column_at_prediction_is_named() -> None:
    pre = fitted(TRAIN)
    with pytest.raises(DataError, match=r"feature column 'cat' is missing from new.csv \(did you mean 'cats'\?\)"):
        pre.transform(pd.DataFrame({"num": [1.0], "cats": ["a"], "flag": ["no"]}), source="new.csv")


def test_regression_target_scaling_inverts() -> None:
    train = pd.DataFrame({"a": np.arange(10.0), "y": np.arange(10.0) * 3.3 + 7})
    pre = fitted(train)
    y, _ = pre.transform_target(train["y"])
    assert y.mean().item() == pytest.approx(0, abs=1e-6)
    assert pre.inverse_target(y.numpy())[:, 0] == pytest.approx(train["y"].to_numpy())


RARE = pd.DataFrame(
    {
        "cat": ["a"] * 10 + ["b"] * 10 + ["c"] * 2 + ["d", "e"],
        "num": np.linspace(0, 1, 24) ** 2,
        "y": np.linspace(0, 1, 24),
    }
)


def test_rare_levels_are_pooled_into_other_which_unseen_levels_join() -> None:
    pre = fitted(RARE, categorical="embedding")  # min_frequency: 5 by default
    assert pre.state["embedding"]["cat"]["categories"] == ["a", "b"]
    assert pre.cardinalities == [3]  # a, b + other
    assert pre.feature_report()["pooled_categories"] == {"cat": {"levels": 3, "rows": 4, "min_count": 5}}
    _, x_cat = pre.transform(pd.DataFrame({"cat": ["a", "b", "c", "e", "zebra"], "num": [0.0] * 5}))
    assert x_cat[:, 0].tolist() == [1, 2, 0, 0, 0]  # rare in train and unseen: the same trained 'other' code
    (x,) = fitted(RARE).transform(pd.DataFrame({"cat": ["a", "d", "zebra"], "num": [0.0] * 3}))
    assert x[:, 1:].tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # one-hot: 'other' is all zeros
    assert fitted(RARE, min_frequency=1).state["onehot"]["cat"]["categories"] == ["a", "b", "c", "d", "e"]
    assert fitted(RARE, min_frequency=50).state["onehot"]["cat"]["categories"] == ["a", "b", "c", "d", "e"]  # all rare
