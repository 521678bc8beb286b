"""Memory of the in-memory table path (issue 11): the same results as before, with the table held about once.

The pieces that keep a large table from being copied (the chunked CSV reader, hashed duplicates, the split that
moves columns, the preprocessor writing one float32 array) are checked against what they replace, and the
memory of preparing a generated 50,000-row CSV is counted (tracemalloc: deterministic, whatever the machine's
load), so that a copy of the table coming back fails a test.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deepfit.config import DataConfig, PreprocessConfig, SplitConfig, load_config
from deepfit.data import sources
from deepfit.data.clean import duplicated_rows
from deepfit.data.pipeline import prepare
from deepfit.data.schema import infer_schema
from deepfit.data.split import split_frame
from deepfit.data.tabular.preprocess import TabularPreprocessor, apply_numeric_scaling

ROOT = Path(__file__).resolve().parents[2]


def mixed_csv(path: Path) -> Path:
    """Columns whose type a chunk alone gets wrong: text late in a numeric column, a column empty in early
    chunks, yes/no values with and without gaps, decimals after whole numbers, an empty column."""
    rows = ["id,flag,late_text,gappy_flag,numbers,ints_then_decimals,empty,label"]
    for i in range(50):
        rows.append(
            ",".join(
                [
                    str(i),
                    "True" if i % 3 else "False",
                    "" if i < 20 else f"x{i % 4}",
                    "" if i in (5, 30) else "True",
                    "1.50" if i != 40 else "abc",
                    str(i) if i < 25 else f"{i}.5",
                    "",
                    "a" if i % 2 else "b",
                ]
            )
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("chunk_rows", [7, 20, 1000])
def test_chunked_csv_reads_as_pandas_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int) -> None:
    path = mixed_csv(tmp_path / "mixed.csv")
    expected = pd.read_csv(path, skipinitialspace=True)
    monkeypatch.setattr(sources, "CHUNK_ROWS", chunk_rows)
    got = sources.read_source(path)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["line_offset"] == 2
    # a column of numbers and words is its cells as written ("1.50", not 1.5), whichever chunk holds the word
    assert got["numbers"].iloc[0] == "1.50" and got["numbers"].iloc[40] == "abc"


def test_chunked_csv_names_a_ragged_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfit.errors import DataError

    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n" + "1,2\n" * 30 + "3,4,5\n", encoding="utf-8")
    monkeypatch.setattr(sources, "CHUNK_ROWS", 7)
    with pytest.raises(DataError, match=r"line 32: 3 fields where the header has 2"):
        sources.read_source(path)


def test_hashed_duplicates_equal_pandas() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.integers(0, 3, 400).astype(float),
            "c": pd.array(rng.choice(["a", "b", None], 400), dtype="str"),
            "flag": rng.choice([True, False], 400),
        }
    )
    frame.loc[::7, "x"] = np.nan  # NaN equals NaN
    frame.loc[::11, "x"] = -0.0  # and -0.0 equals 0.0, as DataFrame.duplicated compares them
    expected = frame.duplicated(keep="first").to_numpy()
    assert expected.sum() > 100
    np.testing.assert_array_equal(duplicated_rows(frame, list(frame.columns)), expected)


def test_split_that_releases_the_table_gives_the_same_parts() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "c": pd.array(rng.choice(["p", "q"], 300), dtype="str"),
            "label": rng.integers(0, 3, 300),
        }
    ).iloc[::2]  # an index with gaps, as cleaning leaves it
    frame.attrs["line_offset"] = 2
    kept = split_frame(frame, SplitConfig(), target="label", task="classification", seed=0)
    released = split_frame(frame.copy(), SplitConfig(), target="label", task="classification", seed=0, release=True)
    for name in kept:
        pd.testing.assert_frame_equal(released[name], kept[name])
        assert released[name].attrs == {"line_offset": 2}


def test_transform_writes_one_float32_array_equal_to_the_stacked_blocks() -> None:
    """Every feature kind in one table; the features equal those stacked as float64 blocks and cast once."""
    rng = np.random.default_rng(2)
    n = 500
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(size=n)),
            "flag": rng.choice(["yes", "no"], n),
            "small": rng.choice(["r", "g", "b"], n),
            "big": rng.choice([f"l{i}" for i in range(40)], n),
            "day": pd.date_range("2021-01-01", periods=n, freq="13h").astype(str),
            "label": rng.choice(["u", "v"], n),
        }
    )
    schema = infer_schema(frame, DataConfig(target="label"), "label")
    for scaling in ("standard", "quantile", "robust", "minmax"):
        config = PreprocessConfig(scaling=scaling, missing_indicators=True)
        pre = TabularPreprocessor(config).fit(frame, schema)
        x, x_cat = pre.transform(frame)
        assert x.dtype.is_floating_point and x.element_size() == 4 and x.shape == (n, pre.n_features)
        assert x_cat.shape == (n, 1) and int(x_cat.min()) >= 1  # "big" is embedded; codes from 1 (0: unknown)
        num = pre.state["numeric"]
        values = frame[num["columns"]].to_numpy()
        missing = np.isnan(values)
        filled = np.where(missing, np.array(num["fill"]), values)
        expected = apply_numeric_scaling(filled, scaling, num).astype(np.float32)
        np.testing.assert_array_equal(x[:, :2].numpy(), expected)
        np.testing.assert_array_equal(x[:, 2].numpy(), missing[:, 1].astype(np.float32))  # b's "was missing"
        onehot = x[:, 4:7].numpy()
        assert set(onehot.sum(1)) == {1.0}


def test_preparing_a_large_csv_holds_no_copy_of_it(tmp_path: Path) -> None:
    """50,000 rows x 20 columns (~8 MB, as bench/memory.py writes them) read, cleaned, split and made into
    tensors: the most memory held at once, as tracemalloc counts it (NumPy arrays and Python objects; not text
    held by pyarrow), stays under 2.5x the file. Measured: 1.6x, the result itself (the split frames and the
    tensors); 4.4x before issue 11 (copies of the table at every stage). The peak resident memory of a whole
    run at 2,000,000 rows is bench/memory.py's (docs/tables.md, Memory)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from memory import write_table
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "table.csv"
    write_table(path, 50_000)
    prepare(load_config({"data": {"source": "builtin:iris"}, "model": {"name": "mlp"}}))  # imports, not counted
    config = load_config({"data": {"source": str(path), "target": "label"}, "model": {"name": "mlp"}})
    tracemalloc.start()
    try:
        prepared = prepare(config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(prepared.tensors["train"]) == 35_000
    size = path.stat().st_size
    assert peak <= 2.5 * size, f"{peak / 1e6:.1f} MB traced at most for a {size / 1e6:.1f} MB file"


def test_a_large_tables_compact_frames_give_the_same_tensors(messy_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From COMPACT_ROWS rows the split frames keep text categories and labels as pandas categories (before they
    are encoded) and decimals as float32 (after): the preprocessing and the tensors are those of a table kept
    as read."""
    from deepfit.data.tabular import kind

    config = {"data": {"source": str(messy_csv), "target": "label"}, "model": {"name": "mlp"}}
    as_read = prepare(load_config(config))
    monkeypatch.setattr(kind, "COMPACT_ROWS", 1)
    compact = prepare(load_config(config))
    assert compact.preprocessor.to_dict() == as_read.preprocessor.to_dict() and compact.report == as_read.report
    for name, data in as_read.tensors.items():
        other = compact.tensors[name]
        for a, b in zip((*data.inputs, data.target), (*other.inputs, other.target), strict=True):
            assert torch.equal(a, b)
    train = compact.frames["train"]
    assert train["x1"].dtype == np.float32 and as_read.frames["train"]["x1"].dtype == np.float64
    assert isinstance(train["color"].dtype, pd.CategoricalDtype) and isinstance(
        train["label"].dtype, pd.CategoricalDtype
    )
    np.testing.assert_allclose(train["x1"], as_read.frames["train"]["x1"], rtol=1e-7)
