"""Many processes: the process group from torchrun's environment, and the few collectives the loop needs.

``torchrun --nproc_per_node N -m deepfit train CONFIG`` (or ``deepfit train CONFIG --devices N``, which
starts the same processes through ``deepfit.launch.launch``) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_from_env` joins the group (NCCL for CUDA tensors with gloo
beside it for the loop's small CPU flags; gloo alone on the CPU). Without those variables, or with
``WORLD_SIZE=1``, nothing here runs and the loop is the single-process one, unchanged.

What the loop needs from the other processes, and nothing more (:class:`Group`):

- each rank's **contiguous part of each global batch**: rank r of W takes rows ``[r*m//W, (r+1)*m//W)`` of a
  batch of m rows, from the same shuffled order as one process (``TensorData.batches(shard=...)``);
- **weights of uneven parts**: DDP averages gradients over ranks, so a rank's mean loss is weighed by
  ``rows_here * W / m``; the average is then the gradient of the global batch's mean, also for a short last
  batch (a rank with no row contributes a zero gradient);
- **sums** of the epoch's loss, **agreement** on a Ctrl-C/SIGTERM (any rank's signal stops every rank at the
  same step) and on early stopping;
- **FSDP** (``train.strategy: fsdp``): the full weights and optimizer state gathered by every rank onto rank
  0's CPU for checkpoints, the best epoch and the final model, in one process's format;
- **exact evaluation**: each rank predicts a disjoint contiguous slice of the validation rows and the slices
  are gathered in order, with no padded duplicates (``DistributedSampler`` repeats rows to even the ranks out,
  pytorch #25162, which skews metrics).

Written here rather than taken from Lightning or Accelerate: deepfit's data is in-memory tensors sliced by
index (no ``DataLoader``/``DistributedSampler``), and the loop already owns checkpoints and interrupts; what
remains is these few collectives on ``torch.distributed`` itself.
"""

from __future__ import annotations

import contextlib
import os
import signal as signals
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from deepfit.config import TrainConfig
from deepfit.errors import ConfigError, RunError, TrainingError
from deepfit.launch import env_world
from deepfit.training.checkpoint import unwrap

SIGNALS = {0: None, int(signals.SIGINT): "SIGINT", int(signals.SIGTERM): "SIGTERM"}


@dataclass(frozen=True)
class Group:
    """This process's place among the others, and the collectives the training loop uses."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    strategy: str  # ddp or fsdp

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world

    def rows(self, n: int) -> slice:
        """This rank's contiguous part of ``n`` rows (sizes differ by at most one)."""
        return slice(self.rank * n // self.world, (self.rank + 1) * n // self.world)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum over ranks (a new tensor, on the tensor's device)."""
        total = tensor.detach().clone().to(self.device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.to(tensor.device)

    def any(self, flag: bool | int) -> int:
        """The largest value over ranks of a small integer (``any`` for booleans); a CPU tensor, so that on GPUs
        it goes through gloo beside NCCL and costs no device sync."""
        value = torch.tensor([int(flag)], dtype=torch.int64)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return int(value.item())

    def signal(self, pending: str | None) -> str | None:
        """Agree on a Ctrl-C or SIGTERM that reached any rank: every rank stops at the same step."""
        number = int(getattr(signals, pending)) if pending else 0
        return SIGNALS.get(self.any(number), "SIGTERM")

    def barrier(self) -> None:
        dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value (a picklable object) on every rank."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_object(self, value: Any) -> list[Any]:
        """Every rank's value (a picklable object), in rank order, on every rank."""
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def gather_rows(self, local: torch.Tensor, n: int) -> torch.Tensor:
        """Each rank's ``rows(n)`` of a result, concatenated in rank order: all ``n`` rows, each once.

        all_gather needs equal shapes, so the parts are padded to the largest and the padding cut off again.
        """
        size = -(-n // self.world)
        padded = torch.zeros((size, *local.shape[1:]), dtype=local.dtype, device=self.device)
        padded[: len(local)] = local.to(self.device)
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        counts = [(r + 1) * n // self.world - r * n // self.world for r in range(self.world)]
        return torch.cat([part[:count] for part, count in zip(parts, counts, strict=True)]).to(local.device)

    def predict(self, model: nn.Module, inputs: tuple[torch.Tensor, ...], batch_size: int) -> torch.Tensor:
        """Outputs for all rows, each rank predicting its own contiguous slice (no row counted twice).

        Every rank runs the same number of forward passes (some maybe on no row): an FSDP model gathers its
        weights in each one, with every rank."""
        n = len(inputs[0])
        part = self.rows(n)
        largest = -(-n // self.world)
        chunks = max(1, -(-largest // batch_size))  # as many as the largest slice needs
        was_training = model.training
        model.eval()
        with torch.no_grad():
            pieces = zip(*(t[part].tensor_split(chunks) for t in inputs), strict=True)
            local = torch.cat([model(*(t.to(self.device) for t in piece)).float() for piece in pieces])
        model.train(was_training)
        return self.gather_rows(local, n)

    # ------------------------------------------------------------ consolidated state (checkpoints)
    @property
    def sharded(self) -> bool:
        return self.strategy == "fsdp"

    def model_state(self, model: nn.Module) -> dict[str, Any]:
        """The model's full weights, as one process saves them. FSDP gathers them onto rank 0's CPU (every
        rank must call; the others get an empty dict)."""
        if not self.sharded:
            return unwrap(model).state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def load_model_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        """Full weights into the (sharded) model: rank 0's are sent to every rank."""
        if not self.sharded:
            unwrap(model).load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's full state in one process's format (parameters numbered, not named)."""
        if not self.sharded:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        full: dict[str, Any] = dict(get_optimizer_state_dict(model, optimizer, options=options))  # names as keys
        if not self.main:
            return {}
        index = {name: i for i, name in enumerate(_parameter_names(model, optimizer))}
        groups = [{**g, "params": [index[name] for name in g["params"]]} for g in full["param_groups"]]
        return {"state": {index[name]: v for name, v in full["state"].items()}, "param_groups": groups}

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        if not self.sharded:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        names = _parameter_names(model, optimizer)
        groups = [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]
        full: Any = {"state": {names[i]: v for i, v in state["state"].items()}, "param_groups": groups}
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
        set_optimizer_state_dict(model, optimizer, full, options=options)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model as the strategy trains it: DDP (weights replicated), or FSDP2 (sharded in place)."""
        if self.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for module in list(model.modules())[1:]:
                if isinstance(module, nn.Linear | nn.Conv2d | nn.Embedding):  # a unit per layer with weights
                    fully_shard(module)
            fully_shard(model)
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _parameter_names(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The names of the optimizer's parameters in its own order (how one process numbers them)."""
    names = {id(p): name for name, p in model.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


_GROUP: Group | None = None


def current() -> Group | None:
    """The group this process joined, or None (one process)."""
    return _GROUP


def init_from_env(device: str = "auto", strategy: str = "auto") -> Group | None:
    """Join the process group torchrun describes (once); None when this is the only process.

    ``device`` is ``train.device``: CUDA trains rank r on the node's GPU ``LOCAL_RANK`` with NCCL, the CPU
    with gloo. ``strategy`` is ``train.strategy`` (auto means ddp).
    """
    global _GROUP
    strategy = "fsdp" if strategy == "fsdp" else "ddp"
    if _GROUP is not None:  # joined already (an earlier fit in this process): this fit's strategy
        return replace(_GROUP, strategy=strategy)
    world = env_world()
    if world <= 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available() or local >= torch.cuda.device_count():
            raise TrainingError(
                f"process {local} on this machine needs GPU {local}, but {torch.cuda.device_count()} are visible",
                hint="start at most one process per GPU (--devices or --nproc_per_node), or train.device: cpu",
            )
        torch.cuda.set_device(local)
        where = torch.device("cuda", local)
    elif device == "mps":
        raise ConfigError("several processes on mps are not supported", hint="train.device: cpu or cuda")
    else:
        where = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if cuda else "gloo")
    _GROUP = Group(dist.get_rank(), dist.get_world_size(), local, where, strategy)
    return _GROUP


@contextlib.contextmanager
def claim_on_rank0(
    path: Path, config: TrainConfig, *, resume: bool = False, overwrite: bool = False
) -> Iterator[tuple[Path, Group | None]]:
    """``runs.claim_run_dir`` for a run that may train in several processes: the group joined (and left at
    the end, if joined here), rank 0's path (a timestamp) on every rank, the directory claimed and locked by
    rank 0 alone. Yields ``(run_dir, group)``; the group is None in one process."""
    from deepfit.runs import claim_run_dir

    joined = _GROUP is None
    group = init_from_env(config.device, config.strategy)
    try:
        if group is None:
            with claim_run_dir(path, resume=resume, overwrite=overwrite) as run_dir:
                yield run_dir, group
            return
        with contextlib.ExitStack() as stack:
            claimed = None
            try:
                if group.main:
                    claimed = stack.enter_context(claim_run_dir(path, resume=resume, overwrite=overwrite))
            finally:  # a refusal on rank 0 (None) stops the others at once instead of leaving them waiting
                claimed = group.broadcast(claimed)
            if claimed is None:
                raise RunError(f"rank 0 could not claim the run directory {path}")
            yield claimed, group
    finally:
        if joined:
            close()


def close() -> None:
    """Leave the process group (the end of ``deepfit train`` in each process)."""
    global _GROUP
    if _GROUP is not None and dist.is_initialized():
        dist.destroy_process_group()
    _GROUP = None
