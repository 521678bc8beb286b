"""Shared fixtures: tiny data made by the tests themselves (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def messy_frame() -> pd.DataFrame:
    """A table as users bring them: string target, missing cells, duplicates, an id column,
    text in a numeric column, a constant column and a conflicting label."""
    rng = np.random.default_rng(0)
    n = 240
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + x2 + (color == "red") > 0.5, "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "x1": x1.round(3),
            "x2": x2.round(3).astype(object),
            "color": color,
            "member": rng.choice(["true", "false"], size=n),
            "const": 1,
            "label": label,
        }
    )
    frame.loc[[3, 10, 50], "x1"] = np.nan
    frame.loc[7, "color"] = np.nan
    frame.loc[[12, 40], "x2"] = "n/a?"
    frame.loc[[20, 21], "label"] = np.nan
    duplicates = frame.iloc[[5, 6]]
    conflict = frame.iloc[[8]].assign(label="no" if frame.loc[8, "label"] == "yes" else "yes", customer_id="C99999")
    return pd.concat([frame, duplicates, conflict], ignore_index=True)


@pytest.fixture
def messy_csv(tmp_path: Path, messy_frame: pd.DataFrame) -> Path:
    path = tmp_path / "messy.csv"
    messy_frame.to_csv(path, index=False)
    return path


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# Small and fast: a few epochs of a narrow MLP.
FAST = {"train.epochs": 4, "model.hidden": [16], "train.early_stopping.patience": 2}


@pytest.fixture
def one_thread():
    """Tiny recurrent and attention models run fastest on one thread (modules opt in with ``pytestmark``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
