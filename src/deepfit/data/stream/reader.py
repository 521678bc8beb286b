"""A split of a Parquet table streamed as batches: two-level shuffle, a saved buffer, a prefetch thread.

``StreamData`` has the interface the training loop uses of ``TensorData`` (``len``, ``to``, ``batches``),
so ``Trainer.fit`` runs it unchanged. Why our own reader: Hugging Face ``datasets`` streaming loses or
repeats rows on a shuffled resume (datasets #7901), Mosaic ``streaming`` pins an old NumPy, and torchdata's
``StatefulDataLoader`` is no longer developed; we borrow its protocol (``state_dict``/``load_state_dict``
of the position), not the package.

A shuffled epoch (its seed drawn from the loop's shuffle generator, as ``TensorData`` draws its permutation):

1. the row groups in a seeded random order;
2. each row group's rows of this split, preprocessed, join a buffer of ``data.stream.shuffle_buffer`` rows;
   a seeded permutation of buffer + new rows sends all but ``shuffle_buffer`` of them on, into batches;
   at the end the buffer is emptied in a random order.

Every batch carries the state after it (row groups read, the buffer, the rows waiting to fill the next batch,
the generator's state): a checkpoint taken after batch *b* resumes the epoch exactly from there, without
reading the rows before it again. A background thread reads, preprocesses and batches ahead of the loop,
``data.stream.prefetch`` batches at most; ``wait_seconds`` is the time the loop spent waiting for it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from deepfit.data.batches import Augment, Batch, shard_part
from deepfit.data.stream.rows import SPLIT_CODES, RowRule
from deepfit.errors import DataWarning

Rows = tuple[torch.Tensor, ...]  # model inputs..., target
_END = object()


@dataclass
class StreamData:
    """The rows of one split of a Parquet file, preprocessed chunk by chunk."""

    path: Path
    columns: list[str]
    rule: RowRule
    split: str
    preprocessor: Any
    rows: int  # rows of this split with a class known in train
    counts: list[int] = field(default_factory=list)  # training rows per class (classification)
    buffer: int = 16384
    prefetch: int = 8
    augment: Augment | None = None  # the kind's augmentation of training batches (as TensorData.augment)
    resolve: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # the usable rows before ``transform`` (paths)
    device: torch.device | str = "cpu"
    wait_seconds: float = 0.0
    _position: dict[str, Any] | None = field(default=None, repr=False)
    _resume: dict[str, Any] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.rows

    def to(self, device: torch.device | str) -> StreamData:
        return replace(self, device=device)

    def class_counts(self) -> torch.Tensor:
        return torch.tensor(self.counts)

    # ------------------------------------------------------------ the loop's checkpoint protocol
    def position(self) -> dict[str, Any]:
        """The state after the last batch the loop took (saved in a mid-epoch checkpoint)."""
        return {"stream": self._position} if self._position is not None else {}

    def load_position(self, position: dict[str, Any]) -> None:
        """The next ``batches(start=position["batch"])`` continues from the saved state."""
        self._resume = position if position.get("stream") is not None else None

    # ------------------------------------------------------------ batches
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
        """``(inputs, target)`` batches of the split; shuffled in two levels when asked (see the module).

        ``augment=True`` (the training loop) passes each batch through ``self.augment``, on its device.

        ``shard=(rank, world)`` (many processes): every process reads the same stream and keeps its contiguous
        part of each global batch, as ``TensorData.batches`` does, so the global batches equal one process's.
        """
        seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if shuffle else 0
        resume = None
        if self._resume is not None and self._resume.get("batch") == start and start:
            resume = self._resume["stream"]
        self._resume = None
        skip = 0 if resume is not None else start  # no saved state: replay the epoch up to `start`
        items: queue.Queue[Any] = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        worker = threading.Thread(
            target=self._produce, args=(batch_size, shuffle, seed, resume, items, stop), daemon=True
        )
        worker.start()
        try:
            index = 0
            while True:
                began = time.perf_counter()
                item = items.get()
                self.wait_seconds += time.perf_counter() - began
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                (batch, self._position), index = item, index + 1
                if index <= skip:
                    continue
                if shard is not None:
                    part = shard_part(len(batch[-1]), shard)
                    batch = tuple(t[part] for t in batch)
                inputs, target = tuple(t.to(self.device) for t in batch[:-1]), batch[-1].to(self.device)
                yield self.augment(inputs, target) if augment and self.augment is not None else (inputs, target)
        finally:
            stop.set()
            while worker.is_alive():
                with contextlib.suppress(queue.Empty):
                    items.get(timeout=0.05)
            worker.join()

    def _produce(
        self,
        batch_size: int,
        shuffle: bool,
        seed: int,
        resume: dict[str, Any] | None,
        items: queue.Queue[Any],
        stop: threading.Event,
    ) -> None:
        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    pass
            return False

        try:
            for item in self._epoch(batch_size, shuffle, seed, resume):
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the loop's thread, which raises it
            put(exc)

    def _epoch(
        self, batch_size: int, shuffle: bool, seed: int, resume: dict[str, Any] | None
    ) -> Iterator[tuple[Rows, dict[str, Any]]]:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(self.path)
        generator = torch.Generator().manual_seed(seed)
        keep = self.buffer if shuffle else 0
        if resume is not None:
            order, done = list(resume["order"]), resume["chunk"]
            buffer, pending = tuple(resume["buffer"]), tuple(resume["pending"])
            generator.set_state(resume["generator"])
        else:
            n = table.num_row_groups
            order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
            done, buffer, pending = 0, (), ()

        def state() -> dict[str, Any]:
            return {
                "order": order,
                "chunk": done,
                "buffer": list(buffer),
                "pending": list(pending),
                "generator": generator.get_state(),
            }

        while done < len(order) or _n(buffer):
            if done < len(order):
                pool = _cat(buffer, self.chunk(table, order[done]))
                done += 1
                if not shuffle:
                    out, buffer = pool, ()
                elif _n(pool) > keep:
                    perm = torch.randperm(_n(pool), generator=generator)
                    cut = len(perm) - keep
                    out, buffer = _take(pool, perm[:cut]), _take(pool, perm[cut:])
                else:
                    out, buffer = (), pool
            else:  # every row group is read: the buffer leaves in a random order
                out, buffer = _take(buffer, torch.randperm(_n(buffer), generator=generator)), ()
            pending = _cat(pending, out)
            last = done == len(order) and not _n(buffer)
            while _n(pending) and (_n(pending) >= batch_size or last):
                batch = tuple(t[:batch_size] for t in pending)
                pending = tuple(t[batch_size:] for t in pending)
                yield batch, state()

    def chunk(self, table: Any, group: int) -> Rows:
        """The rows of this split in one row group, preprocessed: (inputs..., target)."""
        frame = table.read_row_group(group, columns=self.columns).to_pandas()
        rule = self.rule
        mask = rule.usable(frame)
        frame = frame[mask]
        frame = frame[rule.codes(frame)[0] == SPLIT_CODES[self.split]]
        pre = self.preprocessor
        y, known = pre.transform_target(frame[rule.target])
        frame = frame[known]
        if self.resolve is not None:
            frame = self.resolve(frame)
        with warnings.catch_warnings():  # cells that are not numbers were counted once, in the data report
            warnings.simplefilter("ignore", DataWarning)
            inputs = pre.transform(frame, source=f"the {self.split} data")
        return (*inputs, y)


def _n(rows: Rows) -> int:
    return len(rows[0]) if rows else 0


def _cat(first: Rows, second: Rows) -> Rows:
    if not first:
        return second
    if not second:
        return first
    return tuple(torch.cat([a, b]) for a, b in zip(first, second, strict=True))


def _take(rows: Rows, index: torch.Tensor) -> Rows:
    return tuple(t[index] for t in rows) if rows else rows
