"""The queue of calls for a module's worker thread: calls run one at a time in the order queued, each
caller gets its own result or exception, a caller that gave up does not disturb the others, and callers on
several event loops are each answered on their own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from hsm.call_queue import CallQueue


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.shutdown(wait=True)


async def test_calls_run_in_order_on_the_worker_and_answer_their_own_caller(worker: ThreadPoolExecutor) -> None:
    queue = CallQueue(worker)
    ran: list[tuple[int, str]] = []

    def record(n: int) -> int:
        ran.append((n, threading.current_thread().name))
        if n == 3:
            raise ValueError("three")
        return n * 10

    futures = [queue.queue(record, (n,)) for n in range(6)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[:3] == [0, 10, 20] and results[4:] == [40, 50]
    assert isinstance(results[3], ValueError) and str(results[3]) == "three"
    assert [n for n, _ in ran] == list(range(6))
    assert {name for _, name in ran} != {threading.current_thread().name}


async def test_a_caller_that_gave_up_leaves_the_others_answered(worker: ThreadPoolExecutor) -> None:
    queue = CallQueue(worker)
    gate = threading.Event()
    slow = queue.queue(gate.wait, (5,))
    after = queue.queue(lambda: "after", ())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await slow
    gate.set()
    assert await after == "after"
    assert await queue.queue(lambda: "later", ()) == "later"


def test_callers_on_several_loops_are_answered_on_their_own(worker: ThreadPoolExecutor) -> None:
    queue = CallQueue(worker)
    answers: dict[int, list[int]] = {}

    def run(index: int) -> None:
        async def main() -> list[int]:
            return list(await asyncio.gather(*(queue.queue(lambda n=n: n + index * 1000, ()) for n in range(50))))

        answers[index] = asyncio.run(main())

    threads = [threading.Thread(target=run, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {index: [n + index * 1000 for n in range(50)] for index in range(4)}
