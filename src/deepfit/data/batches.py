"""In-memory tensors batched by index: no per-sample ``__getitem__`` and no collate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor]
# augment(inputs, target) -> (inputs, target): batch-wise, on the batch's device, training batches only
Augment = Callable[[tuple[torch.Tensor, ...], torch.Tensor], Batch]


def shard_part(size: int, shard: tuple[int, int]) -> slice:
    """Rank's contiguous part of a global batch of ``size`` rows (``shard=(rank, world)``): the parts of all ranks
    tile the batch and differ in size by at most one row."""
    rank, world = shard
    return slice(rank * size // world, (rank + 1) * size // world)


@dataclass
class TensorData:
    """Model inputs (one or more tensors with the same first dimension) and the target."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor
    augment: Augment | None = None

    def __len__(self) -> int:
        return len(self.target)

    def to(self, device: torch.device | str) -> TensorData:
        return TensorData(tuple(t.to(device) for t in self.inputs), self.target.to(device), self.augment)

    def class_counts(self) -> torch.Tensor:
        """Rows per class code (a classification loss's class weights)."""
        return torch.bincount(self.target.cpu())

    # the loop's checkpoint protocol (streamed data saves its buffer here); in-memory batches are replayed
    # exactly from the saved order and batch index, so there is nothing to add
    def position(self) -> dict[str, Any]:
        return {}

    def load_position(self, position: dict[str, Any]) -> None:
        return None

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        augment: bool = False,
        start: int = 0,
        shard: tuple[int, int] | None = None,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, target)`` slices; shuffled by one permutation per epoch when asked.

        ``augment=True`` (the training loop) passes each batch through ``self.augment``; evaluation never does.
        ``start`` skips the first batches of the epoch's order (resuming mid-epoch) without touching them.
        ``shard=(rank, world)`` (many processes): the order and the batches are those of one process, and each
        yields rank's contiguous part of each batch of m rows, ``[rank*m//world, (rank+1)*m//world)``.
        """
        transform = self.augment if augment else None
        n = len(self)
        order = torch.randperm(n, generator=generator).to(self.target.device) if shuffle else None
        for first in range(start * batch_size, n, batch_size):
            last = first + batch_size
            if shard is not None:  # this rank's part of the global batch
                part = shard_part(min(batch_size, n - first), shard)
                first, last = first + part.start, first + part.stop
            if order is None:
                batch = tuple(t[first:last] for t in self.inputs), self.target[first:last]
            else:
                index = order[first:last]
                batch = tuple(t[index] for t in self.inputs), self.target[index]
            yield transform(*batch) if transform is not None else batch
