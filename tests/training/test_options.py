"""Training options: mixed precision, torch.compile, gradient accumulation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import deepfit
from deepfit import Trainer
from deepfit.data.batches import TensorData
from deepfit.data.builtin import load_builtin
from deepfit.errors import ConfigError
from deepfit.training.checkpoint import load_checkpoint


def blobs(n: int = 256, seed: int = 0) -> TensorData:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return TensorData((centers[y] + 0.5 * torch.randn(n, 2, generator=g),), y)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))


def test_bf16_autocast_learns_on_the_cpu() -> None:
    model = net()
    Trainer({"epochs": 15, "lr": 0.01, "precision": "bf16"}).fit(model, blobs(), blobs(90, 1))
    val = blobs(90, 1)
    assert (model(*val.inputs).argmax(1) == val.target).float().mean() > 0.95


def test_fp16_without_a_gpu_is_refused_with_the_fix() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: fp16 is allowed")
    with pytest.raises(ConfigError, match=r"(?s)fp16 needs a CUDA GPU.*use train\.precision: bf16"):
        Trainer({"epochs": 1, "precision": "fp16"}).fit(net(), blobs())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 with gradient scaling needs a CUDA GPU")
def test_fp16_with_gradient_scaling_learns_on_the_gpu() -> None:
    model = net()
    Trainer({"epochs": 15, "lr": 0.01, "precision": "fp16", "device": "cuda"}).fit(model, blobs(), blobs(90, 1))
    val = blobs(90, 1).to("cuda")
    assert (model(*val.inputs).argmax(1) == val.target).float().mean() > 0.95


def test_accumulation_equals_one_large_batch() -> None:
    """Two micro-batches of 16 with accumulation take the same steps as batches of 32."""
    config = {"epochs": 3, "lr": 0.01, "optimizer": "sgd", "schedule": "cosine", "weight_decay": 0.0}
    big, small = net(), net()
    a = Trainer({**config, "batch_size": 32}).fit(big, blobs())
    b = Trainer({**config, "batch_size": 16, "accumulate": 2}).fit(small, blobs())
    for p, q in zip(big.parameters(), small.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    assert a.history[-1]["lr"] == pytest.approx(b.history[-1]["lr"])  # the schedule counts optimizer steps


def test_uneven_last_group_is_normalised_by_its_own_size() -> None:
    """250 rows in micro-batches of 100, accumulate 2: the last step has one micro-batch, not two."""
    x = torch.ones(250, 1)
    data = TensorData((x,), torch.zeros(250, 1))
    model = nn.Linear(1, 1, bias=False)
    nn.init.constant_(model.weight, 1.0)
    config = {"epochs": 1, "lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.0}, "schedule": "constant"}
    Trainer({**config, "batch_size": 100, "accumulate": 2, "weight_decay": 0.0}).fit(model, data, loss=nn.MSELoss())
    # step 1: grad of mean((w x)^2) = 2w = 2 -> w = 0.8; step 2: 2 * 0.8 = 1.6 -> w = 0.64
    assert model.weight.item() == pytest.approx(0.64, rel=1e-6)


def test_compiled_model_checkpoints_have_no_wrapper_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []
    real_compile = torch.compile

    def eager_compile(model, **kwargs):  # the real wrapper (OptimizedModule), without a C++ build in CI
        compiled.append(model)
        return real_compile(model, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    result = deepfit.train(
        "examples/iris.yaml", run_dir=tmp_path / "r", overrides={"train.compile": True, "train.epochs": 3}
    )
    assert compiled, "torch.compile was used"
    saved = [load_checkpoint(result.run_dir / "checkpoints" / "last.pt")["model"]]
    saved.append(torch.load(result.run_dir / "model" / "weights.pt"))
    for state in saved:
        assert not any(key.startswith(("_orig_mod.", "module.")) for key in state)
    assert len(deepfit.load(result.run_dir).predict(load_builtin("iris").head(3))) == 3
