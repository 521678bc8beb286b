"""Sequence data: .npz and long tables, lengths kept through padding, stratified splits, train-only scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import deepfit
from deepfit.config import load_config
from deepfit.data.pipeline import prepare, resolve_kind
from deepfit.errors import DataError


def waves(n: int = 60, steps: int = 24, seed: int = 0, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy sine (label "sine") and square ("square") waves of random frequency and phase, random lengths."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    x = np.zeros((n, steps, 1))
    lengths = rng.integers(steps // 2, steps + 1, n)
    labels = np.array(["sine", "square"])[np.arange(n) % 2]
    for i in range(n):
        wave = np.sin(2 * np.pi * rng.uniform(0.08, 0.2) * t + rng.uniform(0, 2 * np.pi))
        wave = np.sign(wave) if labels[i] == "square" else wave
        x[i, : lengths[i], 0] = (wave + rng.normal(0, noise, steps))[: lengths[i]]
    return x, labels, lengths


def write_npz(path: Path, n: int = 60, steps: int = 24, seed: int = 0) -> Path:
    x, y, lengths = waves(n, steps, seed)
    np.savez(path, X=x, y=y, lengths=lengths)
    return path


def long_frame() -> pd.DataFrame:
    """Three sequences in long format, steps shuffled: ids a (3 steps), b (2), c (4)."""
    rows = [
        ("a", 0, 1.0, 10.0, "up"), ("a", 1, 2.0, 20.0, "up"), ("a", 2, 3.0, 30.0, "up"),
        ("b", 0, 5.0, 50.0, "down"), ("b", 1, 4.0, 40.0, "down"),
        ("c", 0, 1.0, 1.0, "up"), ("c", 1, 2.0, 2.0, "up"), ("c", 2, 3.0, 3.0, "up"), ("c", 3, 4.0, 4.0, "up"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["seq", "step", "x", "z", "label"])
    return frame.iloc[[2, 0, 4, 1, 3, 8, 6, 5, 7]].reset_index(drop=True)


def test_npz_is_detected_and_lengths_survive_padding(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "waves.npz")
    config = load_config({"data": {"source": str(path)}})
    assert resolve_kind(config) == "sequence"
    prepared = prepare(config)
    x, lengths = prepared.tensors["train"].inputs
    assert prepared.spec.kind == "sequence" and prepared.spec.input_shape == [24, 1]
    assert x.shape[1:] == (24, 1) and lengths.dtype == torch.int64
    padded = torch.arange(24)[None, :] >= lengths[:, None]
    assert (x[padded] == 0).all() and lengths.min() < 24
    assert prepared.spec.class_names == ["sine", "square"]


def test_classification_split_is_stratified(tmp_path: Path) -> None:
    prepared = prepare(load_config({"data": {"source": str(write_npz(tmp_path / "w.npz", n=100))}}))
    for name in ("train", "validation", "test"):
        counts = torch.bincount(prepared.tensors[name].target)
        assert abs(int(counts[0]) - int(counts[1])) <= 1


def test_scaling_uses_real_training_steps_only(tmp_path: Path) -> None:
    x, y, lengths = waves(40)
    x[:, :, 0] += 5.0 * (np.arange(x.shape[1])[None, :] < lengths[:, None])  # real steps around 5; padding 0
    np.savez(tmp_path / "w.npz", X=x, y=y, lengths=lengths)
    prepared = prepare(load_config({"data": {"source": str(tmp_path / "w.npz")}}))
    pre, rows = prepared.preprocessor, prepared.frames["train"]["id"]  # an .npz's ids are its row numbers
    real = np.concatenate([x[i, : lengths[i], 0] for i in rows])
    assert pre.state["offset"] == pytest.approx([real.mean()]) and pre.state["scale"] == pytest.approx([real.std()])


def test_long_table_sequences_in_order_with_max_length(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_frame().to_csv(path, index=False)
    config = {
        "data": {
            "source": str(path),
            "target": "label",
            "sequence": {"id_column": "seq", "order_column": "step", "max_length": 3},
            "preprocess": {"scaling": "none"},
            "split": {"train": 1.0, "validation": 0.0, "test": 0.0},
        }
    }
    prepared = prepare(load_config(config))
    assert resolve_kind(load_config(config)) == "sequence"
    x, lengths = prepared.tensors["train"].inputs
    order = prepared.frames["train"]["id"].tolist()
    assert prepared.preprocessor.state["features"] == ["x", "z"]
    got = {key: x[i, : lengths[i]].tolist() for i, key in enumerate(order)}
    assert got["a"] == [[1, 10], [2, 20], [3, 30]]
    assert got["b"] == [[5, 50], [4, 40]] and x[order.index("b"), 2].tolist() == [0, 0]
    assert got["c"] == [[2, 2], [3, 3], [4, 4]]  # longer than max_length: its last steps
    assert "1 training sequences cut to their last 3 steps" in prepared.report["notes"][0]


def test_long_table_errors(tmp_path: Path) -> None:
    frame = long_frame()
    cfg = {"data": {"source": str(tmp_path / "long.csv"), "target": "label", "kind": "sequence"}}
    frame.to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(DataError, match=r"needs data.sequence.id_column"):
        prepare(load_config(cfg))
    cfg["data"]["sequence"] = {"id_column": "sq"}
    with pytest.raises(DataError, match=r"column 'sq' is not in .*long.csv \(did you mean 'seq'\?\)"):
        prepare(load_config(cfg))
    cfg["data"]["sequence"] = {"id_column": "seq"}
    frame.astype({"x": object}).assign(x=lambda f: f["x"].where(f.index != 3, "oops")).to_csv(
        tmp_path / "long.csv", index=False
    )
    with pytest.raises(DataError, match=r"column 'x' of .*long.csv holds a non-numeric value \('oops'\) at line 5"):
        prepare(load_config(cfg))
    frame.assign(label=lambda f: f["label"].where(f.index != 1, "down")).to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(DataError, match=r"sequence 'a' of .* has 2 different labels in 'label'"):
        prepare(load_config(cfg))


def test_predict_and_evaluate_raw_sequences(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "waves.npz", n=40)
    cfg = {"data": {"source": str(path)}, "model": {"name": "gru", "rnn_hidden": 8}}
    fast = {"train.epochs": 1, "output.report": False, "train.diagnostics.enabled": False}
    run = deepfit.train(cfg, overrides=fast, run_dir=tmp_path / "run").run_dir
    predictions = deepfit.predict(run, path)
    assert len(predictions) == 40 and list(predictions.columns) == ["prediction", "proba_sine", "proba_square"]
    assert deepfit.evaluate(run, path)["data"]["n_samples"] == 40
    x, _, _ = waves(3, steps=30)  # longer than the training sequences: their last 24 steps are read
    assert len(deepfit.load(run).predict(x)) == 3
    with pytest.raises(DataError, match=r"sequences have 2 features; the model reads 1"):
        deepfit.load(run).predict(np.zeros((2, 5, 2)))


def test_predict_on_a_long_table_names_the_sequences(tmp_path: Path) -> None:
    frame = pd.concat([long_frame().assign(seq=lambda f, k=k: f["seq"] + str(k)) for k in range(6)])
    frame.to_csv(tmp_path / "long.csv", index=False)
    cfg = {
        "data": {"source": str(tmp_path / "long.csv"), "target": "label", "sequence": {"id_column": "seq"}},
        "model": {"name": "lstm", "rnn_hidden": 4},
        "output": {"report": False},
    }
    run = deepfit.train(cfg, overrides={"train.epochs": 1}, run_dir=tmp_path / "run").run_dir
    predictions = deepfit.predict(run, long_frame().drop(columns=["label"]))
    assert predictions["seq"].tolist() == ["a", "b", "c"]
