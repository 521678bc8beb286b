from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deepfit
from deepfit.config import AugmentConfig, load_config
from deepfit.data.batches import TensorData
from deepfit.data.image import augment as A
from deepfit.data.image.augment import ImageAugment, build_augment
from deepfit.data.pipeline import prepare
from deepfit.evaluation.evaluate import predict_outputs
from deepfit.training.trainer import Trainer
from tests.data.shapes import write_shapes

MEAN, STD = [0.2, 0.4, 0.6], [0.2, 0.25, 0.3]
OPS = [
    {"flip": True},
    {"crop": 2},
    {"rotate": 30},
    {"translate": 0.2},
    {"scale": 0.3},
    {"brightness": 0.4},
    {"contrast": 0.4},
    {"noise": 0.1},
    {"cutout": 4},
    {"mixup": 0.4},
]


def batch(n: int = 16, size: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images of random pixels and their class labels."""
    generator = torch.Generator().manual_seed(1)
    pixels = torch.rand(n, 3, size, size, generator=generator)
    x = (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, torch.arange(n) % 3


@pytest.mark.parametrize("op", OPS, ids=lambda op: next(iter(op)))
def test_each_op_changes_training_batches_and_keeps_shapes_and_dtypes(op: dict) -> None:
    x, y = batch()
    augment = build_augment(AugmentConfig(**op), MEAN, STD, n_classes=3)
    torch.manual_seed(0)
    (out,), target = augment((x,), y)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.allclose(out, x)
    if "mixup" in op:  # soft targets: class probabilities
        assert target.shape == (16, 3) and target.dtype == x.dtype
        assert torch.allclose(target.sum(1), torch.ones(16))
    else:
        assert torch.equal(target, y)
    torch.manual_seed(0)  # seeded through torch's global generator: the same seed, the same batch
    (again,), _ = augment((x,), y)
    assert torch.equal(out, again)


def test_nothing_enabled_means_no_augmentation() -> None:
    assert build_augment(AugmentConfig(), MEAN, STD) is None


def test_flip_mirrors_some_images_and_keeps_the_others() -> None:
    x, _ = batch()
    torch.manual_seed(0)
    out = A.flip(x, True, A.Stats(torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)))
    mirrored = [bool(torch.equal(o, i.flip(2))) for o, i in zip(out, x, strict=True)]
    kept = [bool(torch.equal(o, i)) for o, i in zip(out, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and any(mirrored) and any(kept)


def test_crop_shifts_content_and_fills_with_black() -> None:
    stats = A.Stats(torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1))
    x, _ = batch(n=32)
    torch.manual_seed(0)
    out = A.crop(x, 3, stats)
    black = stats.black[0]  # C x 1 x 1
    for o, i in zip(out, x, strict=True):  # every output is a window of the input padded with black
        padded = torch.nn.functional.pad(i - black, (3, 3, 3, 3)) + black
        windows = [padded[:, r : r + 12, c : c + 12] for r in range(7) for c in range(7)]
        assert any(torch.allclose(o, w) for w in windows)


def test_colour_ops_stay_within_the_pixel_range() -> None:
    x, y = batch()
    augment = ImageAugment(AugmentConfig(brightness=0.9, contrast=0.9), MEAN, STD)
    (out,), _ = augment((x,), y)
    pixels = out * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_mixup_blends_regression_targets() -> None:
    x, _ = batch()
    y = torch.linspace(0, 1, 16)[:, None]
    torch.manual_seed(0)
    _, target = A.mixup(x, y, 0.4, n_classes=0)
    assert target.shape == y.shape and not torch.equal(target, y)
    assert target.min() >= 0 and target.max() <= 1


def test_augmentation_applies_to_training_batches_only(tmp_path: Path) -> None:
    write_shapes(tmp_path / "s", per_class=6, size=12)
    config = {
        "data": {"source": str(tmp_path / "s"), "image": {"cache": False}, "augment": {"rotate": 20, "noise": 0.1}}
    }
    prepared = prepare(load_config(config))
    train, validation = prepared.tensors["train"], prepared.tensors["validation"]
    assert train.augment is not None and validation.augment is None and prepared.tensors["test"].augment is None

    (plain,), _ = next(train.batches(64))
    (augmented,), _ = next(train.batches(64, augment=True))
    assert torch.equal(plain, train.inputs[0]) and not torch.allclose(augmented, plain)

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 12 * 12, 3))
    first = predict_outputs(model, train.inputs, 8)  # evaluation and prediction never augment
    assert torch.equal(first, predict_outputs(model, train.inputs, 8))


def test_training_with_mixup_uses_soft_targets_and_reports_metrics_on_hard_labels() -> None:
    x, y = batch(n=48, size=8)
    x[y == 1] += 1.5  # a learnable signal: class 1 is brighter
    train = TensorData((x,), y, augment=build_augment(AugmentConfig(mixup=0.4), MEAN, STD, n_classes=3))
    val = TensorData((x[:24],), y[:24])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    from deepfit.evaluation.evaluate import epoch_metrics_fn

    trainer = Trainer(
        {"epochs": 3, "batch_size": 16, "diagnostics": {"enabled": False}},
        metrics_fn=epoch_metrics_fn("classification", "loss"),
    )
    result = trainer.fit(model, train, val, task="classification")
    assert len(result.history) == 3
    assert all(0 <= row["val_accuracy"] <= 1 for row in result.history)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] * 1.5


def test_a_registered_augmentation_runs_after_the_built_in_ones_and_is_checked_by_name() -> None:
    from deepfit.data.registry import AUGMENTATIONS
    from deepfit.errors import ConfigError

    calls = []

    def invert(x: torch.Tensor, strength: float, stats: A.Stats) -> torch.Tensor:
        calls.append(strength)
        return -x

    with AUGMENTATIONS.scoped():
        deepfit.register_augmentation("invert", invert)
        config = load_config({"data": {"augment": {"noise": 0.0, "custom": {"invert": 1.0}}}}).data.augment
        x, y = batch()
        (out,), _ = ImageAugment(config, [0.0], [1.0])((x,), y)
        assert torch.equal(out, -x) and calls == [1.0]
    with pytest.raises(ConfigError, match=r"data\.augment\.custom.*unknown augmentation 'invrt'"):
        load_config({"data": {"augment": {"custom": {"invrt": 1.0}}}})
