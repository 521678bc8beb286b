from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from deepfit.config import ModelConfig, load_config
from deepfit.data.pipeline import prepare
from deepfit.data.spec import DataSpec
from deepfit.evaluation.evaluate import epoch_metrics_fn, predict_outputs
from deepfit.models.cnn import BasicBlock, ConvNet, ResNet, build_cnn, build_resnet, image_rule
from deepfit.models.registry import build_model
from deepfit.models.select import resolve_model
from deepfit.training.trainer import Trainer
from tests.data.shapes import write_shapes


def image_spec(shape: list[int], n_train: int = 100, n_outputs: int = 3) -> DataSpec:
    c, h, w = shape
    return DataSpec(
        task="classification",
        n_features=c * h * w,
        n_outputs=n_outputs,
        kind="image",
        input_shape=shape,
        n_train=n_train,
    )


@pytest.mark.parametrize("build", [build_cnn, build_resnet])
@pytest.mark.parametrize("shape", [[1, 8, 8], [3, 17, 23], [3, 1, 1], [3, 64, 48]])
def test_any_image_size_gives_one_output_per_class(build: object, shape: list[int]) -> None:
    model = build(image_spec(shape), ModelConfig(channels=[4, 8, 16], blocks=1))
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_cnn_depth_and_width_follow_the_config() -> None:
    model = build_cnn(image_spec([3, 16, 16]), ModelConfig(channels=[8, 16], blocks=3, dropout=0.3))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 8, 16, 16, 16]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 1  # between the two stages
    assert any(isinstance(m, nn.Dropout) and m.p == 0.3 for m in model.modules())
    assert isinstance(model, ConvNet)


def test_resnet_blocks_start_as_the_identity_and_convs_are_initialised() -> None:
    model = build_resnet(image_spec([3, 16, 16]), ModelConfig(channels=[8, 16], blocks=2, init="kaiming"))
    assert isinstance(model, ResNet)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 4 and all(not b.bn2.weight.detach().any() for b in blocks)
    conv = blocks[0].conv1[0]
    fan_in = conv.in_channels * 9
    assert float(conv.weight.detach().std()) == pytest.approx((2 / fan_in) ** 0.5, rel=0.3)


def test_a_cnn_needs_image_data() -> None:
    tabular = DataSpec(task="classification", n_features=4, n_outputs=3)
    with pytest.raises(ValueError, match="needs image data"):
        build_cnn(tabular, ModelConfig())


def test_auto_picks_a_cnn_for_small_data_and_a_resnet_for_larger_images() -> None:
    small, reason = image_rule(image_spec([1, 8, 8], n_train=1_300), ModelConfig())
    assert small["name"] == "cnn" and small["channels"] == [32, 64, 128]
    assert "1,300 training images of 8x8" in reason
    large, _ = image_rule(image_spec([3, 32, 32], n_train=40_000), ModelConfig())
    assert large["name"] == "resnet" and large["channels"] == [64, 128, 256]


def test_auto_honours_max_params_and_keys_set_in_the_config() -> None:
    spec = image_spec([3, 32, 32], n_train=40_000)
    config = ModelConfig(max_params=50_000)
    resolved, reason = resolve_model(config, spec)
    params = sum(p.numel() for p in build_resnet(spec, resolved).parameters())
    assert resolved.name == "resnet" and params <= 50_000 and "max_params=50,000" in reason
    kept, _ = resolve_model(ModelConfig(channels=[8, 8]), spec)
    assert kept.channels == [8, 8]


def test_a_cnn_learns_shapes_in_a_few_epochs(tmp_path: Path) -> None:
    write_shapes(tmp_path / "shapes", per_class=50, size=16, seed=3)
    config = load_config(
        {
            "data": {"source": str(tmp_path / "shapes"), "image": {"cache": False}},
            "model": {"name": "cnn", "channels": [16, 32], "blocks": 1, "dropout": 0.0},
            "train": {"epochs": 8, "batch_size": 16, "lr": 0.02, "diagnostics": {"enabled": False}},
        }
    )
    prepared = prepare(config)
    torch.manual_seed(0)
    model = build_model(config.model, prepared.spec)
    metrics = epoch_metrics_fn("classification", "loss")
    history = Trainer(config.train, metrics_fn=metrics).fit(model, prepared.tensors["train"], None).history
    assert history[-1]["train_loss"] < 0.3 * history[0]["train_loss"]
    test = prepared.tensors["test"]
    assert metrics(predict_outputs(model, test.inputs, 64), test.target)["accuracy"] >= 0.9
