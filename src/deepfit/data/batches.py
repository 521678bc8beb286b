"""In-memory tensors batched by index: no per-sample ``__getitem__`` and no collate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass
class TensorData:
    """Model inputs (one or more tensors with the same first dimension) and the target."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor

    def __len__(self) -> int:
        return len(self.target)

    def to(self, device: torch.device | str) -> TensorData:
        return TensorData(tuple(t.to(device) for t in self.inputs), self.target.to(device))

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        """Yield ``(inputs, target)`` slices; shuffled by one permutation per epoch when asked."""
        n = len(self)
        if not shuffle:
            for start in range(0, n, batch_size):
                yield (
                    tuple(t[start : start + batch_size] for t in self.inputs),
                    self.target[start : start + batch_size],
                )
            return
        order = torch.randperm(n, generator=generator).to(self.target.device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            yield tuple(t[index] for t in self.inputs), self.target[index]
