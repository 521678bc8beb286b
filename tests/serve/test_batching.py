"""The micro-batcher alone: which rows run together, and that each request gets its own rows back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from deepfit.errors import DataError
from deepfit.serve.batching import MicroBatcher, Overloaded


class Echo:
    """A model that records the batch sizes it saw and answers each row with its own id (and the batch's size)."""

    def __init__(self, delay: float = 0.0, bad: object = None) -> None:
        self.sizes: list[int] = []
        self.delay, self.bad = delay, bad

    def __call__(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sizes.append(len(records))
        time.sleep(self.delay)
        if any(r["id"] == self.bad for r in records):
            raise DataError(f"row {self.bad} is bad")
        return [{"id": r["id"], "batch": len(records)} for r in records]


def rows(*ids: object) -> list[dict[str, Any]]:
    return [{"id": i} for i in ids]


async def with_batcher(model: Echo, work: Any, **settings: Any) -> Any:
    batcher = MicroBatcher(model, is_input_error=lambda exc: isinstance(exc, DataError), **settings)
    await batcher.start()
    try:
        return await work(batcher)
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_model_call_and_get_their_own_rows() -> None:
    model = Echo()

    async def work(batcher: MicroBatcher) -> list[Any]:
        return await asyncio.gather(*(batcher.submit(rows(i)) for i in range(8)))

    answers = asyncio.run(with_batcher(model, work, max_batch=8, max_wait_ms=50))
    assert model.sizes == [8]
    assert answers == [[{"id": i, "batch": 8}] for i in range(8)]


def test_batches_never_exceed_max_batch_rows_and_a_request_is_never_split() -> None:
    model = Echo()

    async def work(batcher: MicroBatcher) -> list[Any]:
        return await asyncio.gather(*(batcher.submit(rows(f"{i}a", f"{i}b", f"{i}c")) for i in range(3)))

    answers = asyncio.run(with_batcher(model, work, max_batch=5, max_wait_ms=20))
    assert model.sizes == [3, 3, 3]  # 3 + 3 > 5: the second request starts the next batch
    assert [[r["id"] for r in a] for a in answers] == [[f"{i}a", f"{i}b", f"{i}c"] for i in range(3)]

    model = Echo()
    asyncio.run(with_batcher(model, lambda b: asyncio.gather(*(b.submit(rows(i, i)) for i in range(3))), max_batch=4))
    assert model.sizes == [4, 2]


def test_a_lone_request_waits_at_most_max_wait() -> None:
    model = Echo()

    async def work(batcher: MicroBatcher) -> float:
        start = time.perf_counter()
        await batcher.submit(rows(1))
        return time.perf_counter() - start

    waited = asyncio.run(with_batcher(model, work, max_batch=64, max_wait_ms=30))
    assert model.sizes == [1]
    assert 0.025 <= waited < 5.0  # the timer, not the next request, ended the wait (a loaded machine is slow)


def test_requests_arriving_while_the_model_runs_form_the_next_batch() -> None:
    model = Echo(delay=0.2)

    async def work(batcher: MicroBatcher) -> None:
        first = asyncio.create_task(batcher.submit(rows(0)))
        await asyncio.sleep(0.05)  # the first batch is running now
        await asyncio.gather(first, *(batcher.submit(rows(i)) for i in range(1, 6)))

    asyncio.run(with_batcher(model, work, max_batch=32, max_wait_ms=0))
    assert model.sizes == [1, 5]


def test_a_full_queue_refuses_at_once() -> None:
    model = Echo(delay=0.2)

    async def work(batcher: MicroBatcher) -> list[Any]:
        return await asyncio.gather(*(batcher.submit(rows(i, i)) for i in range(3)), return_exceptions=True)

    answers = asyncio.run(with_batcher(model, work, max_batch=2, max_queue=4))
    assert [type(a) for a in answers] == [list, list, Overloaded]
    assert "queue is full" in str(answers[2])


def test_one_request_with_bad_input_fails_alone() -> None:
    model = Echo(bad=2)

    async def work(batcher: MicroBatcher) -> list[Any]:
        return await asyncio.gather(*(batcher.submit(rows(i)) for i in range(4)), return_exceptions=True)

    answers = asyncio.run(with_batcher(model, work, max_batch=8, max_wait_ms=50))
    assert model.sizes == [4, 1, 1, 1, 1]  # the batch, then each request alone
    assert [a if isinstance(a, list) else type(a) for a in answers] == [
        [{"id": 0, "batch": 1}],
        [{"id": 1, "batch": 1}],
        DataError,
        [{"id": 3, "batch": 1}],
    ]


def test_a_model_failure_fails_the_whole_batch_once() -> None:
    def broken(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise RuntimeError("out of memory")

    async def work(batcher: MicroBatcher) -> list[Any]:
        return await asyncio.gather(*(batcher.submit(rows(i)) for i in range(3)), return_exceptions=True)

    answers = asyncio.run(with_batcher(broken, work, max_batch=8, max_wait_ms=20))  # type: ignore[arg-type]
    assert all(isinstance(a, RuntimeError) for a in answers)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(Echo(), max_batch=0)


def test_submit_before_start_is_refused() -> None:
    with pytest.raises(Overloaded, match="not ready"):
        asyncio.run(MicroBatcher(Echo()).submit(rows(1)))
