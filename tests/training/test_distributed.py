"""Training in two processes (gloo on the CPU, as CI runs it) against one process with the same global batch.

One spawn of two ranks (``worker``) does everything the in-process assertions need: an uninterrupted run, the
same run interrupted by a signal on rank 1 only and resumed, and the gathered validation outputs. Spawning
costs ~20 s on two busy cores, so the assertions share it (the module-scoped ``two_ranks`` fixture).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import deepfit
from deepfit.data.batches import TensorData
from deepfit.training.callbacks import Checkpointer
from deepfit.training.checkpoint import load_checkpoint
from deepfit.training.trainer import Trainer, TrainingInterrupted
from tests.conftest import ROOT

# 41 training rows in global batches of 8: six batches an epoch, the last of one row, which rank 0 lacks
# (its part is empty) and rank 1 has; 13 validation rows split 6 / 7.
N_TRAIN, N_VAL, BATCH, EPOCHS, CUT_AT = 41, 13, 8, 3, 8
CONFIG = {
    "epochs": EPOCHS,
    "batch_size": BATCH,
    "lr": 0.03,
    "schedule": {"name": "cosine", "warmup_epochs": 1},
    "device": "cpu",
    "early_stopping": {"patience": 50},
}
TIMEOUT = 240
# deepfit train end to end: 105 training rows of iris, global batch 16 (the last batch of 9 rows splits 4 / 5)
RUN = {
    "data": {"source": "builtin:iris"},
    "model": {"name": "mlp", "hidden": [16], "dropout": 0.0},
    "train": {"epochs": 4, "batch_size": 16, "lr": 0.01, "device": "cpu"},
    "eval": {"baselines": False},
    "output": {"report": False},
}


def data() -> tuple[TensorData, TensorData]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_TRAIN + N_VAL, 5, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return TensorData((x[:N_TRAIN],), y[:N_TRAIN]), TensorData((x[N_TRAIN:],), y[N_TRAIN:])


def model(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def accuracy(outputs: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((outputs.argmax(1) == target).float().mean())}


class SignalAt:
    """A Ctrl-C reaching one rank only, after the given optimizer step (the loop reads the flag it sets)."""

    def __init__(self, trainer: Trainer, step: int) -> None:
        self.trainer, self.step = trainer, step

    def on_batch_end(self, state: Any) -> None:
        if state.step == self.step:
            self.trainer.interrupts.signal = "SIGINT"


def fit(
    out: Path | None,
    *,
    resume: dict | None = None,
    cut: bool = False,
    rank: int = 0,
    strategy: str = "ddp",
    dropout: float = 0.0,
) -> tuple[nn.Module, Any]:
    """One training run; rank 0 (or the single process) checkpoints into ``out``."""
    train, val = data()
    net = model(dropout)
    callbacks: list[Any] = [Checkpointer(out)] if out is not None and rank == 0 else []
    trainer = Trainer({**CONFIG, "strategy": strategy}, callbacks=callbacks, metrics_fn=accuracy)
    if cut and rank == 1:
        trainer.callbacks.append(SignalAt(trainer, CUT_AT))
    result = trainer.fit(net, train, val, task="classification", resume=resume)
    return net, result


def worker(out: str) -> None:
    """Rank ``RANK`` of two: straight run, interrupted run (signal on rank 1) and its resume, exact predictions."""
    from deepfit.training.distributed import close as close_group
    from deepfit.training.distributed import current

    out_dir = Path(out)
    rank = int(os.environ["RANK"])
    net, result = fit(out_dir / "straight", rank=rank)
    group = current()
    assert group is not None and group.world == 2
    _, val = data()
    outputs = group.predict(net, val.inputs, 4)  # batches of 4: rank 0 predicts 6 rows in 2, rank 1 7 rows in 2
    try:
        fit(out_dir / "cut", cut=True, rank=rank)
        raise AssertionError("the signal on rank 1 did not stop rank " + str(rank))
    except TrainingInterrupted:
        pass
    checkpoint = load_checkpoint(out_dir / "cut" / "checkpoints" / "last.pt")
    resumed, resumed_result = fit(out_dir / "resumed", resume=checkpoint, rank=rank)
    run = deepfit.train(RUN, run_dir=out_dir / "run", verbose=rank == 0)  # rank 0 alone writes (and prints)
    (out_dir / f"api{rank}.json").write_text(json.dumps({"dir": str(run.run_dir), "metrics": run.metrics}))
    noisy, _ = fit(out_dir / "dropout", rank=rank, dropout=0.3)  # random streams per rank, saved and restored
    try:
        fit(out_dir / "dropout_cut", cut=True, rank=rank, dropout=0.3)
        raise AssertionError("the signal on rank 1 did not stop rank " + str(rank))
    except TrainingInterrupted:
        pass
    checkpoint = load_checkpoint(out_dir / "dropout_cut" / "checkpoints" / "last.pt")
    noisy_resumed, _ = fit(out_dir / "dropout_resumed", resume=checkpoint, rank=rank, dropout=0.3)
    _, sharded = fit(out_dir / "fsdp", rank=rank, strategy="fsdp")
    try:
        fit(out_dir / "fsdp_cut", cut=True, rank=rank, strategy="fsdp")
        raise AssertionError("the signal on rank 1 did not stop FSDP on rank " + str(rank))
    except TrainingInterrupted:
        pass
    result_file = out_dir / f"rank{rank}.pt"
    torch.save(
        {
            "straight": net.state_dict(),
            "history": result.history,
            "outputs": outputs,
            "resumed": resumed.state_dict(),
            "resumed_history": resumed_result.history,
            "fsdp": sharded.weights,
            "dropout": noisy.state_dict(),
            "dropout_resumed": noisy_resumed.state_dict(),
            "fsdp_history": sharded.history,
        },
        result_file,
    )
    close_group()


def spawn(target: str, args: list[str], world: int = 2) -> None:
    """``world`` processes running ``target(*args)`` with torchrun's environment; a hang fails, not blocks."""
    from deepfit.launch import free_port

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
    }
    module, name = target.rsplit(":", 1)
    code = f"import {module} as m; m.{name}(*{args!r})"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(world)
    ]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=TIMEOUT)[0])
    finally:
        for proc in procs:
            proc.kill()
    failed = [(r, p.returncode) for r, p in enumerate(procs) if p.returncode]
    assert not failed, f"ranks failed {failed}:\n" + "\n".join(logs)


@functools.cache
def one_process() -> tuple[nn.Module, Any]:
    """The reference: the same training in this (single) process."""
    return fit(None)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    spawn("tests.training.test_distributed:worker", [str(out)])
    return out


def close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=atol, rtol=1e-5), (name, (a[name] - b[name]).abs().max())


def test_two_processes_train_as_one_with_the_same_global_batch(two_ranks: Path) -> None:
    single, result = one_process()
    ranks = [torch.load(two_ranks / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    close(ranks[0]["straight"], single.state_dict())
    close(ranks[1]["straight"], ranks[0]["straight"], atol=0)  # DDP keeps the replicas identical
    for mine, theirs in zip(ranks[0]["history"], result.history, strict=True):
        assert mine.keys() == theirs.keys()
        for key in ("train_loss", "val_loss"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5), key
        assert mine["val_accuracy"] == theirs["val_accuracy"]


def test_evaluation_counts_every_row_once(two_ranks: Path) -> None:
    from deepfit.evaluation.evaluate import predict_outputs

    single, _ = one_process()
    _, val = data()
    expected = predict_outputs(single, val.inputs, 1024)
    for rank in (0, 1):
        outputs = torch.load(two_ranks / f"rank{rank}.pt", weights_only=True)["outputs"]
        assert outputs.shape == (N_VAL, 3)  # no padded duplicates
        assert torch.allclose(outputs, expected, atol=1e-5)


def test_interrupted_on_one_rank_then_resumed_equals_uninterrupted(two_ranks: Path) -> None:
    checkpoint = load_checkpoint(two_ranks / "cut" / "checkpoints" / "last.pt")
    assert checkpoint["step"] == CUT_AT and checkpoint["extra"]["position"]["batch"] == CUT_AT - 6
    rank0 = torch.load(two_ranks / "rank0.pt", weights_only=True)
    close(rank0["resumed"], rank0["straight"], atol=1e-7)
    assert [h["epoch"] for h in rank0["resumed_history"]] == list(range(1, EPOCHS + 1))
    for mine, theirs in zip(rank0["resumed_history"], rank0["history"], strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-6)
    assert not (two_ranks / "resumed" / "checkpoints" / "last.pt.tmp").exists()
    # with dropout, each rank's random stream is saved and restored too: still the same run
    close(rank0["dropout_resumed"], rank0["dropout"], atol=1e-7)
    assert not torch.allclose(rank0["dropout"]["0.weight"], rank0["straight"]["0.weight"])


def test_one_process_resumes_a_two_process_checkpoint(two_ranks: Path) -> None:
    checkpoint = load_checkpoint(two_ranks / "cut" / "checkpoints" / "last.pt")
    single, result = fit(None, resume=checkpoint)
    reference, straight = one_process()
    close(single.state_dict(), reference.state_dict())
    assert result.history[-1]["train_loss"] == pytest.approx(straight.history[-1]["train_loss"], rel=1e-5)


def test_deepfit_train_in_two_processes_writes_one_run_from_rank_0(two_ranks: Path, tmp_path: Path) -> None:
    from deepfit.runs import read_jsonl

    single = deepfit.train(RUN, run_dir=tmp_path / "one", verbose=False)
    ranks = [json.loads((two_ranks / f"api{r}.json").read_text()) for r in (0, 1)]
    run = two_ranks / "run"
    assert ranks[0]["dir"] == ranks[1]["dir"] == str(run)
    assert ranks[1]["metrics"] == {}  # rank 1 trains, and leaves evaluation, saving and reporting to rank 0
    files = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(single.run_dir).as_posix() for p in single.run_dir.rglob("*") if p.is_file())
    history = read_jsonl(run / "metrics.jsonl")
    assert len(history) == len(single.history)  # one writer: no epoch logged twice
    for mine, theirs in zip(history, single.history, strict=True):
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["val_accuracy"] == theirs["val_accuracy"]
    for split in ("validation", "test"):
        for key in ("accuracy", "f1_macro", "support"):
            if key in single.metrics[split]:
                assert ranks[0]["metrics"][split][key] == pytest.approx(single.metrics[split][key], rel=1e-6)


def test_devices_launches_the_same_command_in_each_process() -> None:
    from deepfit.cli import _without_devices
    from deepfit.launch import launch

    argv = ["--debug", "train", "c.yaml", "--devices", "2", "--set", "train.epochs=1", "--devices=2"]
    assert _without_devices(argv) == ["--debug", "train", "c.yaml", "--set", "train.epochs=1"]
    assert launch(["--version"], 2) == 0
    assert launch(["train"], 2) == 2  # every rank fails alike (no config); its exit code is kept


def test_fsdp_trains_as_one_process_and_saves_checkpoints_one_process_resumes(two_ranks: Path) -> None:
    single, result = one_process()
    rank0 = torch.load(two_ranks / "rank0.pt", weights_only=True)
    close(rank0["fsdp"], single.state_dict())  # the full weights, gathered from the shards
    assert [h["val_accuracy"] for h in rank0["fsdp_history"]] == [h["val_accuracy"] for h in result.history]
    checkpoint = load_checkpoint(two_ranks / "fsdp_cut" / "checkpoints" / "last.pt")
    assert checkpoint["model"].keys() == single.state_dict().keys()  # the format of one process
    resumed, _ = fit(None, resume=checkpoint)  # model and optimizer state from the sharded run, in one process
    close(resumed.state_dict(), single.state_dict())


def test_a_ctrl_c_echoed_by_torchrun_is_one_request() -> None:
    """torchrun forwards a terminal's Ctrl-C to processes that got it already: within ``echo`` it is one."""
    import signal

    from deepfit.training.interrupts import Interrupts

    with Interrupts(echo=3.0) as interrupts:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the echo: no KeyboardInterrupt
        assert interrupts.signal == "SIGINT"
    with pytest.raises(KeyboardInterrupt), Interrupts() as interrupts:  # one process: a second Ctrl-C stops
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
