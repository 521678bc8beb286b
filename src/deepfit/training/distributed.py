"""Many processes: the process group from torchrun's environment, and the few collectives the loop needs.

``torchrun --nproc_per_node N -m deepfit train CONFIG`` (or ``deepfit train CONFIG --devices N``, which starts
the same processes through ``deepfit.launch.launch``) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_from_env` joins the group (NCCL for CUDA tensors with gloo beside it for the
loop's small CPU flags; gloo alone on the CPU). Without those variables, or with ``WORLD_SIZE=1``, nothing here
runs and the loop is the single-process one, unchanged.

What the loop needs from the other processes, and nothing more (:class:`Group`):

- each rank's **contiguous part of each global batch**: rank r of W takes rows ``[r*m//W, (r+1)*m//W)`` of a
  batch of m rows, from the same shuffled order as one process (``TensorData.batches(shard=...)``);
- **weights of uneven parts**: DDP averages gradients over ranks, so a rank's mean loss is weighed by
  ``rows_here * W / m``; the average is then the gradient of the global batch's mean, also for a short last
  batch (a rank with no row contributes a zero gradient);
- **sums** of the epoch's loss, **agreement** on a Ctrl-C/SIGTERM (any rank's signal stops every rank at the
  same step) and on early stopping;
- **exact evaluation**: each rank predicts a disjoint contiguous slice of the validation rows and the slices
  are gathered in order, with no padded duplicates (``DistributedSampler`` repeats rows to even the ranks out,
  pytorch #25162, which skews metrics).

Written here rather than taken from Lightning or Accelerate: deepfit's data is in-memory tensors sliced by
index (no ``DataLoader``/``DistributedSampler``), and the loop already owns checkpoints and interrupts; what
remains is these few collectives on ``torch.distributed`` itself.
"""

from __future__ import annotations

import os
import signal as signals
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from deepfit.errors import ConfigError, TrainingError
from deepfit.launch import env_world

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
        """Outputs for all rows, each rank predicting its own contiguous slice (no row counted twice)."""
        from deepfit.evaluation.evaluate import predict_outputs

        n = len(inputs[0])
        part = self.rows(n)
        local = predict_outputs(model, tuple(t[part] for t in inputs), batch_size)
        if not len(local):  # fewer rows than ranks: this rank's slice is empty, but the shape must match
            with torch.inference_mode():
                was_training = model.training
                model.eval()
                local = model(*(t[:1] for t in inputs)).float()[:0]
                model.train(was_training)
        return self.gather_rows(local, n)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model as the strategy trains it: DDP (weights replicated), or FSDP2 (sharded in place)."""
        if self.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for module in list(model.modules())[1:]:
                if isinstance(module, nn.Linear | nn.Conv2d | nn.Embedding) and any(module.parameters()):
                    fully_shard(module)
            fully_shard(model)
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)


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
    if _GROUP is not None:
        return _GROUP
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
    _GROUP = Group(dist.get_rank(), dist.get_world_size(), local, where, "fsdp" if strategy == "fsdp" else "ddp")
    return _GROUP


def close() -> None:
    """Leave the process group (the end of ``deepfit train`` in each process)."""
    global _GROUP
    if _GROUP is not None and dist.is_initialized():
        dist.destroy_process_group()
    _GROUP = None
