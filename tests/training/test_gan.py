"""GANs end to end: a tabular GAN learns a mixture, an image GAN runs, samples come back from a saved run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import deepfit
from deepfit.cli import main
from deepfit.config import load_config
from deepfit.data.pipeline import prepare
from deepfit.data.spec import DataSpec
from deepfit.errors import ConfigError, DataError, RunError, TrainingError
from deepfit.models.gan import build_gan, halvings
from deepfit.sampling import load_gan, sample
from deepfit.training.gan import GanData, fit_gan, gan_data

MEANS = {"a": (-2.0, 1.0), "b": (2.0, -1.0)}  # two clusters, a quarter / three quarters of the rows


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def mixture(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.25, "a", "b")
    centre = np.array([MEANS[c] for c in label])
    return pd.DataFrame({"x": rng.normal(centre[:, 0], 0.3), "y": rng.normal(centre[:, 1], 0.3), "label": label})


def tabular_config(tmp_path: Path, **model: Any) -> dict[str, Any]:
    mixture().to_csv(tmp_path / "mixture.csv", index=False)
    model = {
        "name": "gan",
        "hidden": [64, 64],
        "dropout": 0.0,
        "latent_dim": 8,
        "gan_lr_g": 2e-3,
        "gan_lr_d": 2e-3,
        **model,
    }
    return {
        "data": {"source": str(tmp_path / "mixture.csv"), "target": "label"},
        "model": model,
        "train": {"epochs": 100, "batch_size": 64},
        "output": {"dir": str(tmp_path / "runs")},
    }


@pytest.fixture(scope="module")
def tabular_run(tmp_path_factory: pytest.TempPathFactory) -> deepfit.api.TrainResult:
    tmp_path = tmp_path_factory.mktemp("gan")
    return deepfit.train(tabular_config(tmp_path), run_dir=tmp_path / "run")


def test_tabular_gan_learns_the_mixture(tabular_run: Any) -> None:
    samples = pd.read_csv(tabular_run.run_dir / "samples.csv")
    assert list(samples.columns) == ["x", "y", "label"] and set(samples["label"]) == {"a", "b"}
    assert (samples["label"] == "a").mean() == pytest.approx(0.25, abs=0.1)
    for label, (mx, my) in MEANS.items():
        part = samples[samples["label"] == label]
        assert part["x"].mean() == pytest.approx(mx, abs=0.35) and part["y"].mean() == pytest.approx(my, abs=0.35)
    report = tabular_run.metrics["test"]
    assert report["two_sample"]["accuracy"] < 0.85  # well below 1.0: the classifier is often fooled
    assert report["coverage"] > 0.6 and not any("mode collapse" in line for line in report["findings"])
    assert set(report["columns"]) == {"x", "y", "label"} and report["columns"]["label"]["tvd"] < 0.15


def test_run_files(tabular_run: Any) -> None:
    run = tabular_run.run_dir
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 101))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "val_wasserstein", "val_tvd", "seconds"} <= set(rows[-1])
    assert 0 < rows[-1]["d_real"] < 1 and 0 < rows[-1]["d_fake"] < 1  # probabilities under the default loss
    checkpoint = torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # the loop's checkpoint format
    assert {"model", "optimizer", "schedule", "epoch", "step", "extra", "rng", "config", "d_steps"} <= set(checkpoint)
    assert set(checkpoint["optimizer"]) == {"generator", "discriminator"}
    assert checkpoint["epoch"] == 100
    assert json.loads((run / "eval.json").read_text())["test"]["n_real"] == 180
    assert json.loads((run / "model" / "meta.json").read_text())["spec"]["task"] == "generation"


def test_report_shows_curves_scores_and_sample_rows(tabular_run: Any) -> None:
    page = (tabular_run.run_dir / "report.html").read_text()
    for part in ("Training curves", "Is the generated data like the real data?", "two-sample accuracy (ideal 0.5)"):
        assert part in page
    assert "The first 12 rows of samples.csv" in page and "<th>Wasserstein</th>" in page
    assert page.count("data:image/png;base64,") == 1  # the curves; no HTTP anywhere: it opens offline
    assert "http://" not in page and "https://" not in page


def test_sample_from_a_saved_run(tabular_run: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tabular_run.run_dir
    first, again = sample(run, 50, seed=3), sample(run, 50, seed=3)
    pd.testing.assert_frame_equal(first, again)  # the same seed, the same rows
    assert not first.equals(sample(run, 50, seed=4))
    assert main(["sample", str(run), "-n", "37", "-o", str(tmp_path / "out.csv"), "--seed", "1"]) == 0
    written = pd.read_csv(tmp_path / "out.csv")
    assert len(written) == 37 and list(written.columns) == ["x", "y", "label"]
    assert "wrote 37 samples" in capsys.readouterr().err


def test_predict_on_a_gan_run_says_to_sample(tabular_run: Any) -> None:
    with pytest.raises(DataError, match="this run is a GAN") as info:
        deepfit.predict(tabular_run.run_dir, mixture(5))
    assert "deepfit sample" in str(info.value)


def test_sample_needs_a_gan_run(tmp_path: Path) -> None:
    config = {"data": {"source": "builtin:iris"}, "model": {"hidden": [8]}, "train": {"epochs": 1}}
    run = deepfit.train({**config, "output": {"report": False}}, run_dir=tmp_path / "iris")
    with pytest.raises(RunError, match="is not a GAN run"):
        sample(run.run_dir, 5)


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = tabular_config(tmp_path)
    config["train"]["epochs"] = 4
    whole = deepfit.train(config, run_dir=tmp_path / "whole")
    config["train"]["epochs"] = 2
    deepfit.train(config, run_dir=tmp_path / "part")
    finished = deepfit.train(resume=tmp_path / "part", overrides={"train.epochs": 4})
    assert finished.stop_reason == "finished" and len(finished.history) == 2  # a finished run is not changed
    (tmp_path / "part" / "eval.json").unlink()  # as if killed after its last checkpoint
    resumed = deepfit.train(resume=tmp_path / "part", overrides={"train.epochs": 4})
    for name in ("whole", "part"):
        assert (tmp_path / name / "model" / "weights.pt").exists()
    a, b = (torch.load(r.run_dir / "model" / "weights.pt", weights_only=True) for r in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["d_loss"] for r in whole.history] == [r["d_loss"] for r in resumed.history]


def test_ctrl_c_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    from deepfit.training.checkpoint import load_checkpoint
    from deepfit.training.trainer import TrainingInterrupted
    from tests.training.test_resume import InterruptAt

    config = tabular_config(tmp_path)
    config["train"]["epochs"] = 3
    whole = deepfit.train(config, run_dir=tmp_path / "whole")
    per_epoch = torch.load(whole.run_dir / "checkpoints" / "last.pt", weights_only=True)["step"] // 3
    step = per_epoch + per_epoch // 2  # a real SIGINT in the middle of epoch 2
    with pytest.raises(TrainingInterrupted, match=f"interrupted by SIGINT after step {step} \\(epoch 2\\)") as info:
        deepfit.train(config, run_dir=tmp_path / "cut", callbacks=[InterruptAt(step)])
    assert f"deepfit train --resume {tmp_path / 'cut'}" in info.value.hint
    checkpoint = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")
    assert checkpoint["epoch"] == 1 and checkpoint["extra"]["position"]["batch"] == step - per_epoch
    resumed = deepfit.train(resume=tmp_path / "cut")
    a, b = (torch.load(r.run_dir / "model" / "weights.pt", weights_only=True) for r in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole.history]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history] == strip


def test_bf16_precision_and_a_schedule_train_a_gan(tmp_path: Path) -> None:
    config = tabular_config(tmp_path)
    config["train"].update(epochs=2, precision="bf16", schedule={"name": "cosine"}, clip_grad_norm=5.0)
    result = deepfit.train(config, run_dir=tmp_path / "bf16")
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in result.history)
    assert result.history[1]["lr_g"] < result.history[0]["lr_g"] < 2e-3  # the cosine schedule moves both rates
    assert result.history[1]["lr_d"] < result.history[0]["lr_d"]


def test_wgan_gp_trains(tmp_path: Path) -> None:
    config = tabular_config(tmp_path, gan_loss="wgan_gp", gan_n_critic=2)
    config["train"]["epochs"] = 2
    result = deepfit.train(config, run_dir=tmp_path / "wgan")
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in result.history)
    assert result.metrics["test"]["two_sample"]["n"] == 360


def test_a_nan_loss_stops_with_what_to_do(tmp_path: Path) -> None:
    cfg = load_config(tabular_config(tmp_path))
    spec = DataSpec("generation", 3, 1)
    data = GanData(spec, None, torch.full((64, 3), float("nan")), None, torch.zeros(4, 3), "test")  # type: ignore[arg-type]
    with pytest.raises(TrainingError) as info:
        fit_gan(build_gan(spec, cfg.model), data, cfg)
    message = str(info.value)
    assert "the GAN's d loss became nan at epoch 1" in message and "--set model.gan_lr_d=" in message


def test_unsupported_data_kind_is_refused(tmp_path: Path) -> None:
    from tests.models.test_text import text_case

    config, _ = text_case({"name": "gan"})(tmp_path)
    with pytest.raises(ConfigError, match="gan works on tables and images; this data is text"):
        gan_data(load_config(config), prepare(load_config(config)))


def test_codec_gives_rows_back_in_original_units_and_names() -> None:
    from deepfit.config import CleanConfig
    from deepfit.data.schema import Schema
    from deepfit.models.gan import GanCodec

    frame = pd.DataFrame(
        {
            "x": [0.5, 1.5, -2.0, 3.25],
            "n": [1, 2, 3, 10],
            "flag": [True, False, True, True],
            "code": [3, 5, 3, 5],
            "label": ["a", "b", "a", "b"],
        }
    )
    kinds = {"x": "numeric", "n": "numeric", "flag": "boolean", "code": "categorical"}
    codec = GanCodec.fit_tabular(frame, Schema("label", "classification", kinds), CleanConfig())
    assert codec.blocks == [["numeric", 2], ["categorical", 2], ["categorical", 2], ["categorical", 2]]
    back = codec.decode(codec.encode(frame))
    assert back["n"].dtype == np.int64 and back["code"].tolist() == [3, 5, 3, 5]
    assert back["flag"].tolist() == [True, False, True, True] and back["label"].tolist() == ["a", "b", "a", "b"]
    assert np.allclose(back["x"], frame["x"])
    far = codec.encode(frame)
    far[:, :2] = 100.0  # far outside the training range: clipped to its largest values
    assert codec.decode(far)[["x", "n"]].iloc[0].tolist() == [3.25, 10]


@pytest.mark.parametrize(("size", "k"), [(8, 1), (12, 1), (28, 2), (32, 3), (64, 4), (15, 0)])
def test_image_nets_fit_the_image_size(size: int, k: int) -> None:
    cfg = load_config({"model": {"name": "gan", "channels": [8, 16], "latent_dim": 4}}).model
    model = build_gan(DataSpec("generation", 3 * size * size, 1, kind="image", input_shape=[3, size, size]), cfg)
    assert halvings(size, size) == k
    images = model(torch.randn(2, 4))
    assert images.shape == (2, 3, size, size) and images.abs().max() <= 1
    assert model.discriminator(images).shape == (2, 1)


def test_image_gan_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two epochs on 36 coloured 12x12 shapes through the image pipeline: files and shapes, not quality."""
    from PIL import Image

    from tests.data.shapes import write_shapes

    write_shapes(tmp_path / "shapes", per_class=12, size=12)
    config = {
        "data": {"source": str(tmp_path / "shapes"), "image": {"cache": False}},
        "model": {"name": "gan", "channels": [8, 16], "latent_dim": 8},
        "train": {"epochs": 2, "batch_size": 8},
    }
    result = deepfit.train(config, run_dir=tmp_path / "run")
    grid = Image.open(result.run_dir / "samples.png")
    assert grid.mode == "RGB" and grid.size == (8 * (12 * 2 + 2) + 2,) * 2  # 64 tiles, upscaled x2
    page = (result.run_dir / "report.html").read_text()
    assert "Samples" in page and page.count("data:image/png;base64,") == 2  # the curves and the sample grid
    report = result.metrics["test"]
    assert set(report["class_coverage"]["predicted"]) == {"circle", "square", "triangle"}
    assert 0 <= report["two_sample"]["accuracy"] <= 1 and len(result.history) == 2

    images = sample(result.run_dir, 5, seed=0)
    assert images.shape == (5, 12, 12, 3) and images.dtype == np.uint8
    assert main(["sample", str(result.run_dir), "-n", "7", "-o", str(tmp_path / "folder")]) == 0
    assert len(list((tmp_path / "folder").glob("*.png"))) == 7
    assert Image.open(tmp_path / "folder" / "sample_00000.png").size == (12, 12)


def check_gan_conformance(tmp_path: Path) -> None:
    """What the conformance suite checks, as it applies to a GAN (tests/models/test_conformance.py).

    It builds from a config; one discriminator step lowers the discriminator's loss and one generator step
    the generator's, on a fixed batch and noise; a saved and reloaded run gives identical samples.
    """
    from deepfit.predictor import save_model
    from deepfit.training.gan import bce

    config = load_config(tabular_config(tmp_path))
    data = gan_data(config, prepare(config))
    torch.manual_seed(0)
    model = build_gan(data.spec, config.model)
    real, z = data.train[:32], torch.randn(32, config.model.latent_dim)
    torch.manual_seed(1)  # the Gumbel noise of the generator's categories: the same before and after each step

    def d_loss() -> torch.Tensor:
        torch.manual_seed(1)
        return bce(model.discriminator(real), 1.0) + bce(model.discriminator(model(z).detach()), 0.0)

    def g_loss() -> torch.Tensor:
        torch.manual_seed(1)
        return bce(model.discriminator(model(z)), 1.0)

    for loss, net in ((d_loss, model.discriminator), (g_loss, model.generator)):
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        model.train()
        before = loss()
        optimizer.zero_grad()
        before.backward()
        optimizer.step()
        with torch.no_grad():
            assert loss().item() < before.item()

    save_model(tmp_path / "run", model, data.spec, data.codec, config.model)
    reloaded, codec = load_gan(tmp_path / "run")
    expected = data.codec.decode(model.sample(20, seed=0))
    pd.testing.assert_frame_equal(codec.decode(reloaded.sample(20, seed=0)), expected)


def test_callbacks_run_in_a_gan_run(tmp_path: Path) -> None:
    class Epochs:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def on_epoch_end(self, state: Any) -> None:
            self.seen.append(state.epoch)

    config = tabular_config(tmp_path)
    config["train"]["epochs"] = 2
    epochs = Epochs()
    deepfit.train(config, run_dir=tmp_path / "run", callbacks=[epochs])
    assert epochs.seen == [1, 2]


@pytest.mark.parametrize(("key", "value"), [("lr", 0.01), ("loss", "mse"), ("accumulate", 2), ("l1", 0.1)])
def test_train_keys_a_gan_does_not_use_are_refused(tmp_path: Path, key: str, value: Any) -> None:
    config = tabular_config(tmp_path)
    config["train"][key] = value
    with pytest.raises(ConfigError, match=f"train.{key} does not apply to model.name gan"):
        deepfit.train(config, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
