"""Transfer learning: model.init_from, train.freeze, train.fine_tune (docs/transfer.md)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import deepfit
from deepfit.config import load_config
from deepfit.data.batches import TensorData
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError
from deepfit.models.registry import build_model
from deepfit.models.transfer import frozen_names, head_name, layer_groups
from deepfit.training.callbacks import Checkpointer
from deepfit.training.checkpoint import load_checkpoint
from deepfit.training.trainer import Trainer, TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

QUICK = {
    "eval": {"baselines": False},
    "output": {"report": False},
    "train": {"epochs": 3, "batch_size": 32, "diagnostics": {"enabled": False}},
}


def table(n: int, classes: list[str], seed: int) -> pd.DataFrame:
    """Four numeric features; the class is the quadrant of (f0, f1) folded onto ``classes``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    quadrant = (x[:, 0] > 0).astype(int) * 2 + (x[:, 1] > 0).astype(int)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(4)])
    frame["label"] = [classes[q % len(classes)] for q in quadrant]
    return frame


def mlp_config(**model: Any) -> dict[str, Any]:
    return {**QUICK, "data": {"target": "label"}, "model": {"name": "mlp", "hidden": [16, 16], **model}}


# ---------------------------------------------------------------- init_from
def test_init_from_loads_matching_layers_and_reports_the_new_head(tmp_path: Path) -> None:
    deepfit.train(mlp_config(), data=table(300, ["a", "b", "c"], 0), run_dir=tmp_path / "source", verbose=False)
    source = torch.load(tmp_path / "source" / "model" / "weights.pt", weights_only=True)

    config = mlp_config(init_from=str(tmp_path / "source"))
    config["train"] = {**QUICK["train"], "epochs": 1, "freeze": "body"}  # the body keeps the source's values
    deepfit.train(config, data=table(200, ["yes", "no"], 1), run_dir=tmp_path / "target", verbose=False)

    report = json.loads((tmp_path / "target" / "transfer.json").read_text())
    assert report["loaded"] == ["body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias"]  # body.2: dropout
    assert report["skipped"] == [
        {"name": "head.weight", "source": [3, 16], "model": [2, 16], "reason": "shape"},
        {"name": "head.bias", "source": [3], "model": [2], "reason": "shape"},
    ]
    assert report["new"] == [] and report["unused"] == []
    assert report["preprocessing"]["preprocessing"] == "reused"  # the same four columns: the source's scalers
    after = torch.load(tmp_path / "target" / "model" / "weights.pt", weights_only=True)
    for name in report["loaded"]:
        assert torch.equal(after[name], source[name]), name
    pre = json.loads((tmp_path / "target" / "model" / "preprocessing.json").read_text())
    assert pre["state"]["classes"] == ["no", "yes"]  # the target encoding is this data's
    source_pre = json.loads((tmp_path / "source" / "model" / "preprocessing.json").read_text())
    assert pre["state"]["numeric"] == source_pre["state"]["numeric"]

    from deepfit.evaluation.report import build_report

    page = build_report(tmp_path / "target").read_text(encoding="utf-8")
    assert "Initialised from another run" in page and "head.weight (shape: [3, 16] → [2, 16])" in page


def test_the_head_is_kept_only_for_the_same_classes(tmp_path: Path) -> None:
    deepfit.train(mlp_config(), data=table(200, ["a", "b"], 0), run_dir=tmp_path / "s", verbose=False)
    for name, classes in (("same", ["a", "b"]), ("other", ["c", "d"])):  # as many classes, other meanings
        config = mlp_config(init_from=str(tmp_path / "s"))
        deepfit.train(config, data=table(200, classes, 1), run_dir=tmp_path / name, verbose=False)
    same, other = (json.loads((tmp_path / n / "transfer.json").read_text()) for n in ("same", "other"))
    assert "head.weight" in same["loaded"] and not same["skipped"]
    skipped = [(s["name"], s["reason"]) for s in other["skipped"]]
    assert skipped == [("head.weight", "outputs"), ("head.bias", "outputs")]


def test_init_from_refuses_a_model_nothing_fits(tmp_path: Path) -> None:
    deepfit.train(mlp_config(hidden=[8]), data=table(200, ["a", "b"], 0), run_dir=tmp_path / "s", verbose=False)
    config = mlp_config(hidden=[5], init_from=str(tmp_path / "s"))  # other sizes, and three classes
    with pytest.raises(ConfigError, match=r"no layer of .* matches this model"):
        deepfit.train(config, data=table(200, ["a", "b", "c"], 1), run_dir=tmp_path / "t", verbose=False)
    with pytest.raises(deepfit.RunError, match="holds no trained model"):
        deepfit.train(mlp_config(init_from=str(tmp_path / "nothing")), data=table(100, ["a", "b"], 1))


def test_auto_takes_the_source_architecture_and_other_columns_refit_the_preprocessing(tmp_path: Path) -> None:
    deepfit.train(mlp_config(hidden=[12]), data=table(200, ["a", "b"], 0), run_dir=tmp_path / "s", verbose=False)
    other = table(200, ["a", "b"], 1).rename(columns={"f3": "g3"})
    config = {**QUICK, "data": {"target": "label"}, "model": {"init_from": str(tmp_path / "s")}}
    deepfit.train(config, data=other, run_dir=tmp_path / "t", verbose=False)
    saved = load_config(tmp_path / "t" / "config.yaml")
    assert saved.model.name == "mlp" and saved.model.hidden == [12]
    report = json.loads((tmp_path / "t" / "transfer.json").read_text())
    assert report["preprocessing"]["preprocessing"] == "fitted"
    assert "feature columns differ (numeric columns)" in report["preprocessing"]["line"]
    assert "body.0.weight" in report["loaded"]


def test_text_reuses_the_source_vocabulary(tmp_path: Path) -> None:
    from tests.data.test_text import keyword_frame

    text = {"text_column": "review", "tokenizer": "word"}
    base = {**QUICK, "model": {"name": "ngram", "embedding_dim": 8}}
    big, small = keyword_frame(300), keyword_frame(60)
    data = {"target": "label", "text": text}
    deepfit.train({**base, "data": data}, data=big, run_dir=tmp_path / "s", verbose=False)
    config = {**base, "data": data, "model": {**base["model"], "init_from": str(tmp_path / "s")}}
    deepfit.train(config, data=small, run_dir=tmp_path / "t", verbose=False)
    source, target = (json.loads((tmp_path / r / "model" / "preprocessing.json").read_text()) for r in ("s", "t"))
    assert target["state"]["tokenizer"] == source["state"]["tokenizer"]  # embedding rows mean the same tokens
    report = json.loads((tmp_path / "t" / "transfer.json").read_text())
    assert "embedding.weight" in report["loaded"] and not report["skipped"]


def test_image_preprocessing_of_another_size_is_named() -> None:
    from deepfit.data.image.preprocess import ImagePreprocessor

    mine, theirs = ImagePreprocessor(size=(8, 8), mode="gray"), ImagePreprocessor(size=(32, 32), mode="rgb")
    problem = mine.reuse_problem(theirs)
    assert problem is not None and "data.image.size: [32, 32]" in problem and "mode: rgb" in problem
    assert mine.reuse_problem(ImagePreprocessor(size=(8, 8), mode="gray")) is None


# ---------------------------------------------------------------- heads and groups
def spec_for(kind: str) -> DataSpec:
    if kind == "text":
        return DataSpec("classification", 12, 3, kind="text", input_shape=[12], vocab_size=40, n_train=50)
    if kind == "image":
        return DataSpec("classification", 64, 3, kind="image", input_shape=[1, 8, 8], n_train=50)
    return DataSpec("classification", 5, 3, n_train=50)


@pytest.mark.parametrize(
    ("model", "kind", "head"),
    [
        ({"name": "mlp", "hidden": [8]}, "tabular", "head"),
        ({"name": "tabm", "tabm_k": 2, "tabm_width": 8}, "tabular", "output"),
        ({"name": "cnn", "channels": [4, 8], "blocks": 1}, "image", "head"),
        ({"name": "resnet", "channels": [4, 8], "blocks": 1}, "image", "head"),
        ({"name": "text_rnn", "embedding_dim": 8, "rnn_hidden": 8}, "text", "head"),
        ({"name": "transformer", "d_model": 8, "heads": 2, "layers": 1, "ff_dim": 8}, "text", "head"),
        ({"name": "ngram", "embedding_dim": 8}, "text", "head"),
    ],
)
def test_every_architecture_has_a_head_producing_the_outputs(model: dict[str, Any], kind: str, head: str) -> None:
    net = build_model(load_config({"model": model}).model, spec_for(kind))
    assert head_name(net) == head
    outputs = [p for n, p in net.named_parameters() if n.startswith(head + ".") and p.ndim >= 1]
    assert outputs[-1].shape[-1] == 3  # the output layer's bias: one per class
    body = frozen_names(net, "body")
    assert body and not any(n.startswith(head + ".") for n in body)
    groups = layer_groups(net, 3, 100.0)
    assert [round(scale, 6) for _, scale in groups][-1] == 1.0 and groups[0][1] == pytest.approx(0.01)
    assert sum(len(names) for names, _ in groups) == len(list(net.parameters()))


def test_a_plain_sequential_head_is_its_last_layer() -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    assert head_name(net) == "2"
    assert frozen_names(net, "body") == ["0.weight", "0.bias"]
    with pytest.raises(ConfigError, match=r"'featurs\.\*' matches no parameter"):
        frozen_names(net, ["featurs.*"])


# ---------------------------------------------------------------- freezing and fine-tuning in the loop
def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))


def blobs() -> tuple[TensorData, TensorData]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return TensorData((x[:128],), y[:128]), TensorData((x[128:],), y[128:])


def test_frozen_weights_and_batch_norm_statistics_stay_bit_identical() -> None:
    net, (train, val) = bn_net(), blobs()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    config = {"epochs": 3, "batch_size": 32, "freeze": ["0", "1"], "diagnostics": {"enabled": False}}
    Trainer(config).fit(net, train, val)
    after = net.state_dict()
    for name in ("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        assert torch.equal(before[name], after[name]), name
    for name in ("3.weight", "5.weight"):
        assert not torch.equal(before[name], after[name]), name
    assert all(p.requires_grad for p in net.parameters())  # trainable again after fit


def test_fine_tune_trains_the_head_first_then_all_layers_at_discriminative_rates() -> None:
    net, (train, val) = bn_net(), blobs()
    first = net[0].weight.detach().clone()
    seen: list[tuple[bool, list[float]]] = []

    class Watch:
        def on_epoch_end(self, state: Any) -> None:
            seen.append((torch.equal(net[0].weight, first), [g["lr"] for g in state.optimizer.param_groups]))

    config = {
        "epochs": 3,
        "lr": 0.01,
        "schedule": "constant",
        "fine_tune": {"freeze_epochs": 1, "lr_mult": 100, "groups": 3},
        "diagnostics": {"enabled": False},
    }
    Trainer(config, callbacks=[Watch()]).fit(net, train, val)
    assert seen[0][0] and not seen[1][0]  # the body is untouched in epoch 1, trained from epoch 2
    assert sorted(set(seen[-1][1])) == pytest.approx([1e-4, 1e-3, 1e-2])  # lr/100, lr/10, lr at the head


class InterruptAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, state: Any) -> None:
        if state.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("step", [6, 11], ids=["while-frozen", "after-thawing"])
def test_resume_keeps_the_freeze_state_and_groups(tmp_path: Path, step: int) -> None:
    """Interrupted mid-epoch (4 steps an epoch; thawed at epoch 3), resumed: equal to the uninterrupted run, even
    when the config resumed with would freeze longer (Lightning re-froze a thawed backbone on resume, #21901)."""
    config = {
        "epochs": 4,
        "batch_size": 32,
        "lr": 0.01,
        "freeze": "body",
        "fine_tune": {"freeze_epochs": 2, "lr_mult": 10, "groups": 2},
        "diagnostics": {"enabled": False},
    }
    train, val = blobs()
    straight = bn_net()
    expected = Trainer(config).fit(straight, train, val)

    cut = bn_net()
    with pytest.raises(TrainingInterrupted):
        Trainer(config, callbacks=[Checkpointer(tmp_path), InterruptAt(step)]).fit(cut, train, val)
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert checkpoint["extra"]["freeze"]["frozen"] is (step <= 8)
    assert {g["lr_scale"] for g in checkpoint["optimizer"]["param_groups"]} == {0.1, 1.0}

    resumed = bn_net()  # with freeze_epochs 4 in the config now: the checkpoint, not the config, decides
    later = {**config, "fine_tune": {**config["fine_tune"], "freeze_epochs": 4}}
    result = Trainer(later).fit(resumed, train, val, resume=checkpoint)
    assert result.history == expected.history
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_freeze_is_refused_for_gans() -> None:
    with pytest.raises(ConfigError, match=r"train\.freeze does not apply to model\.name gan"):
        from deepfit.training.gan import gan_training

        gan_training(load_config({"model": {"name": "gan"}, "train": {"freeze": "body"}}).train)


# ---------------------------------------------------------------- the Python API: a run's model as a backbone
def test_a_loaded_model_is_a_backbone_for_your_own_module(tmp_path: Path) -> None:
    deepfit.train(mlp_config(), data=table(300, ["a", "b", "c"], 0), run_dir=tmp_path / "s", verbose=False)
    predictor = deepfit.load(tmp_path / "s")
    backbone = predictor.model.body  # everything but the head
    net = nn.Sequential(backbone, nn.Linear(16, 2))
    frame = table(160, ["no", "yes"], 2)
    x = predictor.preprocessor.transform(frame)[0]
    y = torch.as_tensor((frame["label"] == "yes").to_numpy().copy(), dtype=torch.int64)
    before = backbone[0].weight.detach().clone()
    config = {"epochs": 5, "lr": 0.01, "freeze": ["0"], "diagnostics": {"enabled": False}}
    result = Trainer(config).fit(net, TensorData((x[:128],), y[:128]), TensorData((x[128:],), y[128:]))
    assert torch.equal(backbone[0].weight, before)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_an_init_from_run_resumes_exactly_and_refuses_a_changed_source(tmp_path: Path) -> None:
    deepfit.train(mlp_config(), data=table(300, ["a", "b", "c"], 0), run_dir=tmp_path / "s", verbose=False)
    config = mlp_config(init_from=str(tmp_path / "s"))
    config["train"] = {**QUICK["train"], "epochs": 4, "fine_tune": {"freeze_epochs": 2, "lr_mult": 10}}
    frame = table(200, ["yes", "no"], 1)  # 140 training rows: 5 steps an epoch; thawed from step 11
    straight = deepfit.train(config, data=frame, run_dir=tmp_path / "straight", verbose=False)
    with pytest.raises(TrainingInterrupted):
        deepfit.train(config, data=frame, run_dir=tmp_path / "cut", callbacks=[InterruptAt(12)], verbose=False)
    resumed = deepfit.train(data=frame, resume=tmp_path / "cut", verbose=False)
    assert resumed.history == straight.history and resumed.metrics == straight.metrics

    with pytest.raises(TrainingInterrupted):
        deepfit.train(config, data=frame, run_dir=tmp_path / "cut2", callbacks=[InterruptAt(3)], verbose=False)
    pre = tmp_path / "s" / "model" / "preprocessing.json"
    pre.write_text(pre.read_text().replace('"fill"', '"fill" ', 1).replace("0.", "0.5", 1))
    with pytest.raises(deepfit.RunError, match="changed since this run started"):
        deepfit.train(data=frame, resume=tmp_path / "cut2", verbose=False)
