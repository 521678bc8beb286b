from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfit.config import DataConfig
from deepfit.data.schema import infer_kind, infer_schema, infer_task, is_identifier, resolve_target
from deepfit.errors import DataError


def test_task_inference() -> None:
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([0, 1, 2, 1])) == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 100))) == "regression"
    assert infer_task(pd.Series(np.arange(100))) == "regression"  # many distinct integers


def test_kind_inference() -> None:
    assert infer_kind(pd.Series([1.0, 2.5, None])) == "numeric"
    assert infer_kind(pd.Series(["yes", "no", "yes"])) == "boolean"
    assert infer_kind(pd.Series([0, 1, 1])) == "boolean"
    assert infer_kind(pd.Series(["red", "green", "blue"])) == "categorical"
    assert infer_kind(pd.Series(["1.5"] * 19 + ["oops"])) == "numeric"  # a stray string in numbers


def test_identifiers() -> None:
    assert is_identifier(pd.Series([f"u{i}" for i in range(50)]), "user")
    assert is_identifier(pd.Series(range(100, 150)), "row")  # consecutive integers
    assert is_identifier(pd.Series(np.random.default_rng(0).permutation(1000)[:50]), "order_id")
    assert not is_identifier(pd.Series(np.random.default_rng(0).permutation(1000)[:50]), "income")
    assert not is_identifier(pd.Series(np.linspace(0, 1, 50)), "x")


def test_missing_target_column_suggests() -> None:
    frame = pd.DataFrame({"label": [1, 2], "x": [1, 2]})
    with pytest.raises(DataError, match=r"target column 'lable' is not in the data \(did you mean 'label'\?\)"):
        resolve_target(frame, DataConfig(target="lable"), "data.csv")


def test_overrides_win() -> None:
    frame = pd.DataFrame({"zip": [10115, 20095, 10115] * 10, "y": [0.1, 0.2, 0.3] * 10})
    schema = infer_schema(
        frame, DataConfig(target="y", task="classification", column_types={"zip": "categorical"}), "y"
    )
    assert schema.task == "classification"
    assert schema.kinds == {"zip": "categorical"}


def test_unknown_feature_column_is_named() -> None:
    frame = pd.DataFrame({"a": [1, 2], "y": [0, 1]})
    with pytest.raises(DataError, match=r"column 'b' named in the config is not in the data"):
        infer_schema(frame, DataConfig(target="y", features=["a", "b"]), "y")
