"""The runtime's NumPy preprocessing equals deepfit's pandas/PyTorch path on the same raw rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit import runtime
from deepfit.config import load_config
from deepfit.data.pipeline import prepare
from deepfit.export.heldout import records_of
from tests.export.tables import mixed_table


def fitted(scaling: str, **preprocess: object):
    config = load_config(
        {
            "data": {
                "source": "frame",
                "target": "label",
                "preprocess": {"scaling": scaling, "text_features": 8, "max_onehot": 4, **preprocess},
                "column_types": {"notes": "text"},
            },
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare(config, mixed_table()).preprocessor


@pytest.mark.parametrize("scaling", ["standard", "quantile", "robust", "minmax"])
def test_runtime_features_equal_the_preprocessor(scaling: str) -> None:
    pre = fitted(scaling)
    kinds = {k for c in pre.state["features"] for k in ("date", "text") if c in pre.state.get(k, {})}
    assert pre.state["embedding"] and pre.state["onehot"] and pre.state["numeric"]["missing"]
    assert {d["format"] for d in pre.state["date"].values()} == {"ISO8601", "%d/%m/%Y"}
    assert pre.state["text"]["columns"], kinds  # every kind of column is covered
    raw = mixed_table(60, seed=1)  # other rows: unseen levels, missing cells, a text cell in a number column
    raw.loc[0, "city"], raw.loc[1, "color"], raw.loc[2, "x1"] = "atlantis", "purple", np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [t.numpy() for t in pre.transform(raw)]
        got = runtime.Table(pre.to_dict()).transform(records_of(raw, pre.state["features"]))
    assert [a.dtype for a in got] == [a.dtype for a in expected]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)


def test_records_as_json_gives_them() -> None:
    """Numbers as strings, ints for categories, booleans and missing keys read as pandas reads them."""
    pre = fitted("standard")
    raw = mixed_table(5, seed=2)
    records = records_of(raw, pre.state["features"])
    records[0]["x1"] = str(records[0]["x1"])  # "0.1234" as a CSV gives it
    records[1]["member"] = True
    del records[2]["color"]  # a key left out is a missing value
    frame = pd.DataFrame(records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [t.numpy() for t in pre.transform(frame)]
        got = runtime.Table(pre.to_dict()).transform(records)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_missing_column_is_an_input_error() -> None:
    pre = fitted("standard")
    records = records_of(mixed_table(3), [c for c in pre.state["features"] if c != "x1"])
    with pytest.raises(runtime.InputError, match="feature column 'x1' is missing"):
        runtime.Table(pre.to_dict()).transform(records)


def test_ndtri_equals_torch() -> None:
    p = np.concatenate([np.linspace(1e-7, 1 - 1e-7, 2001), [1e-7, 0.02425, 0.5, 0.97575, 1 - 1e-7]])
    expected = torch.special.ndtri(torch.as_tensor(p, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(runtime.ndtri(p), expected, rtol=1e-12, atol=1e-12)


def test_image_pixels_equal_the_preprocessor() -> None:
    """Pixels at the trained size (NumPy only) and at another size (Pillow resizes, as training does)."""
    from deepfit.data.image.preprocess import ImagePreprocessor

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(20, 3, 12, 12), dtype=np.uint8)
    pre = ImagePreprocessor(size=(12, 12), mode="rgb").fit(train, pd.Series(["a", "b"] * 10))
    images = runtime.Images(pre.to_dict())
    for shape in [(5, 12, 12, 3), (5, 20, 16, 3)]:
        pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
        expected = pre.transform(pixels)[0].numpy()
        (got,) = images.transform([{"image": p.tolist()} for p in pixels])
        np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(runtime.InputError, match="H x W or H x W x C"):
        images.transform([{"image": np.zeros((2, 3, 4, 5))}])
