"""Small trained runs for the server's tests, each trained once per session (tiny data, a few epochs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import deepfit

QUICK = {"eval": {"baselines": False}, "output": {"report": False}}


def table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Numbers with missing cells, a category, a yes/no column, dates; the label depends on them."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n).round(3), rng.normal(size=n).round(3)
    color = rng.choice(["red", "green", "blue"], size=n)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x 2": x2,  # a name that is no Python identifier
            "color": color,
            "member": rng.choice(["yes", "no"], size=n),
            "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "label": np.where(x1 + x2 + (color == "red") > 0.5, "yes", "no"),
        }
    )
    frame.loc[[i for i in (3, 10, 17) if i < n], "x1"] = np.nan
    return frame


@pytest.fixture(scope="session")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve_table")
    table().to_csv(folder / "train.csv", index=False)
    config = {
        "data": {"source": str(folder / "train.csv"), "target": "label"},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 4},
        **QUICK,
    }
    return deepfit.train(config, run_dir=folder / "run", verbose=False).run_dir


def write_images(folder: Path, per_class: int = 16, seed: int = 0) -> Path:
    """Dark and light 10x10 PNGs, one sub-folder per class."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, level in (("dark", 40), ("light", 210)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(level, 25, size=(10, 10, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / label / f"{i}.png")
    return folder


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve_images")
    config = {
        "data": {"source": str(write_images(folder / "shapes"))},
        "model": {"name": "cnn", "channels": [4], "blocks": 1},
        "train": {"epochs": 2},
        **QUICK,
    }
    return deepfit.train(config, run_dir=folder / "run", verbose=False).run_dir


@pytest.fixture(scope="session")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve_text")
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fine", "love"], "neg": ["bad", "awful", "poor", "hate"]}
    labels = ["pos" if i % 2 else "neg" for i in range(120)]
    reviews = [" ".join(rng.choice(words[label], 4)) + " film" for label in labels]
    pd.DataFrame({"review": reviews, "label": labels}).to_csv(folder / "reviews.csv", index=False)
    config = {
        "data": {"source": str(folder / "reviews.csv"), "target": "label", "kind": "text"},
        "model": {"name": "ngram"},
        "train": {"epochs": 3},
        **QUICK,
    }
    return deepfit.train(config, run_dir=folder / "run", verbose=False).run_dir


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve_regression")
    frame = table().assign(amount=lambda f: 3 * f["x 2"].fillna(0) + (f["color"] == "red"))
    frame.drop(columns=["label"]).to_csv(folder / "train.csv", index=False)
    config = {
        "data": {"source": str(folder / "train.csv"), "target": "amount"},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 4},
        **QUICK,
    }
    return deepfit.train(config, run_dir=folder / "run", verbose=False).run_dir
