"""Micro-batching: concurrent requests share one model call.

Requests wait in a queue; one worker task takes the first, then gathers more until the batch holds
``max_batch`` rows or ``max_wait`` has passed since the first arrived, runs the model once on all their rows in
a thread (the event loop keeps accepting requests meanwhile), and hands each request its own rows back. While
the model runs, new requests queue up, so under load batches fill without waiting; at low load a request waits
at most ``max_wait``. This is the dynamic batching of NVIDIA Triton (``max_queue_delay_microseconds``) and of
TorchServe (``batch_size``, ``max_batch_delay``), kept in-process: neither server is a dependency here (see
docs/serving.md), and the loop is forty lines of asyncio.

The queue is bounded in rows: a request that would overfill it is refused at once (:class:`Overloaded`, a 503)
instead of waiting without bound. A batch whose input error belongs to one request (a bad image, say) is run
again request by request, so the others still get their answers and the culprit gets its own error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Records = list[dict[str, Any]]


class Overloaded(Exception):
    """The queue holds ``max_queue`` rows already: the request is refused (503, retry later)."""


@dataclass
class _Pending:
    records: Records
    future: asyncio.Future[Records]


@dataclass
class BatchStats:
    """What the model saw: the rows of every batch (the last ``keep`` of them) and the totals."""

    requests: int = 0
    batches: int = 0
    rows: int = 0
    sizes: list[int] = field(default_factory=list)
    keep: int = 1000

    def add(self, requests: int, rows: int) -> None:
        self.requests, self.batches, self.rows = self.requests + requests, self.batches + 1, self.rows + rows
        self.sizes.append(rows)
        del self.sizes[: -self.keep]

    def to_dict(self) -> dict[str, Any]:
        mean = self.rows / self.batches if self.batches else 0.0
        return {"requests": self.requests, "batches": self.batches, "rows": self.rows, "mean_batch_rows": mean}


class MicroBatcher:
    """Queue requests' rows, run ``predict`` on up to ``max_batch`` rows at once in a worker thread.

    ``predict(records) -> results`` takes and returns one dict per row. ``is_input_error(exc)`` says whether an
    exception is the input's fault (then a batch of several requests is retried one request at a time).
    Call :meth:`start` inside the running event loop (the app's lifespan) and :meth:`stop` at shutdown.
    """

    def __init__(
        self,
        predict: Callable[[Records], Records],
        *,
        max_batch: int = 256,
        max_wait_ms: float = 2.0,
        max_queue: int = 4096,
        is_input_error: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError(
                f"max_batch and max_queue must be >= 1 and max_wait_ms >= 0; got {max_batch}, {max_queue}, "
                f"{max_wait_ms}"
            )
        self.predict, self.is_input_error = predict, is_input_error
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000.0, max_queue
        self.stats = BatchStats()
        self.queued_rows = 0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._carry: _Pending | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        # One thread: batches run one after another, so a batch never competes with the next for the cores.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepfit-batch")
        self._worker = asyncio.create_task(self._run(), name="deepfit-micro-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        while self._queue is not None and not self._queue.empty():
            self._fail(self._queue.get_nowait(), Overloaded("the server is shutting down"))
        if self._carry is not None:
            self._fail(self._carry, Overloaded("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._worker = self._queue = self._carry = self._executor = None

    async def submit(self, records: Records) -> Records:
        """The predictions of ``records``, once their batch has run (raises what ``predict`` raised for them)."""
        if not self.running or self._queue is None:
            raise Overloaded("the server is not ready (the batcher is not running)")
        if self.queued_rows + len(records) > self.max_queue:
            raise Overloaded(f"the queue is full ({self.queued_rows} rows waiting; at most {self.max_queue})")
        future: asyncio.Future[Records] = asyncio.get_running_loop().create_future()
        self.queued_rows += len(records)
        self._queue.put_nowait(_Pending(records, future))
        return await future

    # ------------------------------------------------------------ the worker
    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            self.queued_rows -= sum(len(p.records) for p in batch)
            live = [p for p in batch if not p.future.done()]  # a client that went away is not computed
            if live:
                await self._compute(live)

    async def _gather(self) -> list[_Pending]:
        """The next batch: the request carried over (or the next one), then more until full or out of time."""
        queue = self._queue
        if queue is None:
            raise RuntimeError("the batcher is not started")
        first = self._carry or await queue.get()
        self._carry = None
        batch, rows = [first], len(first.records)
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while rows < self.max_batch:
            try:
                item = queue.get_nowait()  # those already waiting join without a timer
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            if rows + len(item.records) > self.max_batch:
                self._carry = item  # it starts the next batch: a batch never exceeds max_batch (unless alone)
                break
            batch.append(item)
            rows += len(item.records)
        return batch

    async def _compute(self, batch: list[_Pending]) -> None:
        rows = [row for p in batch for row in p.records]
        self.stats.add(len(batch), len(rows))
        try:
            results = await self._call(rows)
        except Exception as exc:
            if len(batch) > 1 and self.is_input_error(exc):
                for pending in batch:  # find whose input it was: each request alone
                    await self._compute_alone(pending)
                return
            for pending in batch:
                self._fail(pending, exc)
            return
        start = 0
        for pending in batch:
            end = start + len(pending.records)
            if not pending.future.done():
                pending.future.set_result(results[start:end])
            start = end

    async def _compute_alone(self, pending: _Pending) -> None:
        try:
            results = await self._call(pending.records)
        except Exception as exc:
            self._fail(pending, exc)
        else:
            if not pending.future.done():
                pending.future.set_result(results)

    async def _call(self, rows: Records) -> Records:
        results = await asyncio.get_running_loop().run_in_executor(self._executor, self.predict, rows)
        if len(results) != len(rows):
            raise RuntimeError(f"the model returned {len(results)} predictions for {len(rows)} rows")
        return results

    @staticmethod
    def _fail(pending: _Pending, exc: BaseException) -> None:
        if not pending.future.done():
            pending.future.set_exception(exc)
