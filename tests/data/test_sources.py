from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfit.data.builtin import BUILTIN, load_builtin
from deepfit.data.sources import read_source
from deepfit.errors import DataError


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_sets_have_a_target(name: str) -> None:
    frame = load_builtin(name)
    assert "target" in frame.columns and len(frame) > 100


def test_builtin_class_names_are_labels() -> None:
    assert set(load_builtin("iris")["target"]) == {"setosa", "versicolor", "virginica"}


def test_unknown_builtin_suggests() -> None:
    with pytest.raises(DataError, match=r"unknown builtin dataset 'irs' \(did you mean 'iris'\?\)"):
        read_source("builtin:irs")


def test_csv_parquet_npz_read_the_same(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x0": [1.0, 2.0, 3.0], "x1": [4.0, 5.0, 6.0], "target": [0, 1, 0]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    np.savez(tmp_path / "d.npz", X=frame[["x0", "x1"]].to_numpy(), y=frame["target"].to_numpy())
    for name in ("d.csv", "d.parquet", "d.npz"):
        read = read_source(name, base_dir=tmp_path)
        pd.testing.assert_frame_equal(read.reset_index(drop=True), frame, check_dtype=False)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Data file not found: .*nope.csv"):
        read_source("nope.csv", base_dir=tmp_path)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"bad.parquet: cannot be read"):
        read_source(tmp_path / "bad.parquet")


def test_empty_csv(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="holds no rows"):
        read_source(tmp_path / "e.csv")
