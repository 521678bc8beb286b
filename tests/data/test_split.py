from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepfit.config import SplitConfig
from deepfit.data.split import split_frame
from deepfit.errors import DataWarning


def frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "label": np.where(np.arange(n) < n * 0.8, "a", "b"),
            "group": np.arange(n) // 7,
            "time": rng.permutation(n),
        }
    )


def split(data: pd.DataFrame, seed: int = 0, **options) -> dict[str, pd.DataFrame]:
    return split_frame(data, SplitConfig(**options), target="label", task="classification", seed=seed)


def test_fractions_partition_and_stratify() -> None:
    parts = split(frame())
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [140, 30, 30]
    indices = np.concatenate([p.index for p in parts.values()])
    assert sorted(indices) == list(range(200))  # a partition: nothing lost, nothing twice
    for part in parts.values():
        assert (part["label"] == "b").mean() == pytest.approx(0.2, abs=0.01)


def test_seeded() -> None:
    a, b, c = split(frame(), 3), split(frame(), 3), split(frame(), 4)
    assert a["test"].index.equals(b["test"].index)
    assert not a["test"].index.equals(c["test"].index)


def test_groups_stay_together() -> None:
    parts = split(frame(), group_column="group")
    groups = [set(p["group"]) for p in parts.values()]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert abs(len(parts["test"]) - 30) <= 7


def test_order_column_splits_by_time() -> None:
    parts = split(frame(), order_column="time")
    assert parts["train"]["time"].max() < parts["validation"]["time"].min()
    assert parts["validation"]["time"].max() < parts["test"]["time"].min()


def test_external_test_file_gives_its_share_to_the_others() -> None:
    parts = split_frame(frame(), SplitConfig(), target="label", task="classification", seed=0, external=("test",))
    assert len(parts["test"]) == 0
    assert len(parts["train"]) + len(parts["validation"]) == 200
    assert len(parts["validation"]) == pytest.approx(200 * 0.15 / 0.85, abs=2)


def test_rare_class_keeps_a_training_row() -> None:
    data = pd.DataFrame({"x": range(50), "label": ["a"] * 49 + ["rare"]})
    with pytest.warns(DataWarning, match=r"1 class has fewer than 4 rows, too few to stratify: .* 'rare' \(1 row\)"):
        parts = split(data)
    assert "rare" in set(parts["train"]["label"])
