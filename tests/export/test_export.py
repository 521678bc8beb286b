"""Export conformance: every registered architecture exports with parity to PyTorch at batch 1, 8 and N,
or is refused with the reason (scikit-learn's check_estimator, for exports; cases from the model suite)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfit.config import load_config
from deepfit.data.pipeline import prepare
from deepfit.errors import RunError
from deepfit.export import export_run
from deepfit.export.parity import check_parity
from deepfit.models.gan import build_gan
from deepfit.models.registry import architecture_names, build_model
from deepfit.models.select import resolve_model
from deepfit.predictor import save_model
from deepfit.runs import CONFIG, MODEL, write_text
from tests.models.test_conformance import CASES

pytestmark = pytest.mark.usefixtures("one_thread")

# Architectures whose forward torch.export cannot capture: it reads input values to decide shapes (text
# models trim padding by the longest text; recurrent nets pack sequences of several lengths).
REFUSED = {
    "text_rnn": "cannot be exported",
    "gru": "cannot be exported",  # its case has sequences of several lengths (packed)
}
OWN_CASES = {"gan"}  # exports its generator only: test_gan_exports_its_generator
PT2 = {"mlp", "cnn"}  # the .pt2 path on a table and on images (its files load and run exactly)
# model.name auto is resolved before a run saves its model (meta.json names tabm, mlp, ...): no case of its own
RESOLVED = {"auto"}


def saved_run(tmp_path: Path, name: str, config_dict: dict | None = None) -> Path:
    """The case's config on its tiny data, a freshly built (seeded) model, saved as a run directory."""
    config = load_config(config_dict or CASES[name](tmp_path)[0])
    prepared = prepare(config)
    model_config, _ = resolve_model(config.model, prepared.spec)
    torch.manual_seed(0)
    model = build_model(model_config, prepared.spec)
    run = tmp_path / "run"
    save_model(run, model, prepared.spec, prepared.preprocessor, model_config)
    write_text(run / CONFIG, config.model_copy(update={"model": model_config}).to_yaml())
    return run


def test_every_architecture_has_an_export_case() -> None:
    assert set(architecture_names()) - RESOLVED <= set(CASES) | set(REFUSED) | OWN_CASES


@pytest.mark.parametrize("name", sorted(set(CASES) - set(REFUSED) - RESOLVED))
def test_export_parity(name: str, tmp_path: Path) -> None:
    run = saved_run(tmp_path, name)
    for fmt in ("onnx", "pt2") if name in PT2 else ("onnx",):
        result = export_run(run, tmp_path / f"out-{fmt}", format=fmt, trust_code=name == "custom")
        parity = json.loads((result.path / "parity.json").read_text())
        assert parity["passed"] and parity["max_abs_diff"] < 1e-4
        assert [b["batch"] for b in parity["batches"]] == sorted({1, 8, parity["rows"]})
        meta = json.loads((result.path / "metadata.json").read_text())
        assert fmt == "pt2" or (meta["onnx_opset"] >= 18 and meta["onnxruntime_version"])
        assert meta["architecture"] == json.loads((run / MODEL / "meta.json").read_text())["model"]["name"]
        files = {"preprocessing.json", "schema.json", "metadata.json", "Dockerfile", "README.md"}
        assert files | {f"model.{fmt}"} <= {p.name for p in result.path.iterdir()}
        if fmt == "onnx" and meta["kind"] in ("tabular", "image", "text"):
            assert parity["runtime"]["passed"] and parity["runtime"]["max_feature_diff"] <= 1e-6
        if fmt == "onnx" and meta["kind"] == "image":
            check_predict_py_on_images(run, result.path, tmp_path)


def check_predict_py_on_images(run: Path, folder: Path, tmp_path: Path) -> None:
    """The folder's predict.py on image files equals deepfit predict on the same files."""
    import subprocess
    import sys

    import pandas as pd

    from deepfit.api import predict

    files = sorted(str(p) for p in (tmp_path / "shapes").rglob("*.png"))[:4]
    done = subprocess.run(
        [sys.executable, "predict.py", *files], cwd=folder, capture_output=True, text=True, check=True
    )
    got = pd.read_csv(io.StringIO(done.stdout))
    expected = predict(run, pd.DataFrame({"path": files}))
    assert list(got["path"]) == files and list(got.columns) == list(expected.columns)
    assert (got["prediction"].astype(str) == expected["prediction"].astype(str)).all()
    probas = [c for c in got.columns if c.startswith("proba_")]
    np.testing.assert_allclose(got[probas].to_numpy(float), expected[probas].to_numpy(float), atol=1e-5)


@pytest.mark.parametrize("name", sorted(set(REFUSED) & set(CASES)))
def test_export_refused_with_the_reason(name: str, tmp_path: Path) -> None:
    run = saved_run(tmp_path, name)
    with pytest.raises(RunError, match=REFUSED[name]) as caught:
        export_run(run, tmp_path / "out")
    assert "torch.export says" in str(caught.value) and "deepfit predict" in caught.value.hint
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # nothing left behind


def test_regression_table_with_quantile_scaling(tmp_path: Path) -> None:
    """Standardised targets come back in the target's units, through the runtime as through deepfit predict."""
    config = {
        "data": {"source": "builtin:diabetes", "preprocess": {"scaling": "quantile"}},
        "model": {"name": "mlp", "hidden": [8]},
    }
    run = saved_run(tmp_path, "mlp", config)
    parity = export_run(run, tmp_path / "out").parity
    assert parity["passed"] and parity["runtime"]["passed"] and parity["runtime"]["rows"] > 50
    assert parity["runtime"]["max_prediction_diff"] < 1e-3  # in the target's units (about 150 here)


def test_untraceable_custom_model_refused_with_torchs_reason(tmp_path: Path) -> None:
    model = {"name": "custom", "builder": "tests.export.builders:branchy"}
    config = {"data": {"source": "builtin:iris"}, "model": model}
    run = saved_run(tmp_path, "custom", config)
    with pytest.raises(RunError, match=r"the custom model cannot be exported: torch\.export says") as caught:
        export_run(run, tmp_path / "out", trust_code=True)
    assert "reads values of its input" in caught.value.hint and not (tmp_path / "out").exists()


def test_gan_exports_its_generator(tmp_path: Path) -> None:
    """Noise in, samples out: parity on seeded noise, and the runtime decodes rows as deepfit sample does."""
    import pandas as pd

    from deepfit import runtime
    from deepfit.training.gan import gan_data
    from tests.training.test_gan import tabular_config

    config = load_config(tabular_config(tmp_path))
    data = gan_data(config, prepare(config))
    torch.manual_seed(0)
    model = build_gan(data.spec, config.model)
    save_model(tmp_path / "run", model, data.spec, data.codec, config.model)
    result = export_run(tmp_path / "run", tmp_path / "out")
    assert result.parity["passed"] and result.parity["rows"] == 64
    rt = runtime.load(result.path)
    assert rt.metadata["task"] == "generation" and rt.metadata["latent_dim"] == config.model.latent_dim
    outputs = rt.run(np.random.default_rng(1).standard_normal((40, config.model.latent_dim)))
    expected = data.codec.decode(torch.as_tensor(outputs))
    pd.testing.assert_frame_equal(pd.DataFrame(rt.decode_samples(outputs)), expected, check_dtype=False)
    assert len(rt.sample(10)) == 10
    with pytest.raises(runtime.InputError, match="GAN's generator"):
        rt.predict([{"x": 1.0}])


def test_parity_failure_names_the_largest_difference() -> None:
    model = torch.nn.Linear(3, 2)
    inputs = (torch.randn(10, 3),)

    def drifting(arrays: tuple[np.ndarray, ...]) -> np.ndarray:
        out = model(torch.as_tensor(arrays[0])).detach().numpy()
        out[0, 1] += 0.25
        return out

    with pytest.raises(RunError, match=r"largest difference 0\.25 at batch 1"):
        check_parity(model, drifting, inputs, task="classification")
    figures = check_parity(model, drifting, inputs, task="classification", atol=0.3, rtol=0.0)
    assert figures["passed"] and figures["max_abs_diff"] == pytest.approx(0.25, abs=1e-6)


def test_not_a_run_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="no run directory"):
        export_run(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
