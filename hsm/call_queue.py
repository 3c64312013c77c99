"""The calls waiting for a module's worker thread, run in batches.

Each call used to be its own executor job: a work item and a concurrent future on the way in, a wake-up
of the event loop through its self-pipe on the way out, both per call. Under load that hop cost the event
loop more than SoftHSM's AES-GCM costs the worker. Now callers queue their calls; one drain at a time runs
on the worker and takes every call waiting, in order, and hands the results of a batch back with one
call_soon_threadsafe per event loop (callers may be on several loops). The drain keeps going while calls
keep arriving, so a busy token costs one hop per batch, not per call.

The worker's own order is kept: calls run one at a time, in the order they were queued, and other jobs
submitted to the worker (a cleanup, C_Finalize) run after the calls queued before them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

# (the function and its arguments, the caller's future, the caller's loop)
_Call = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], asyncio.AbstractEventLoop]
# (the caller's future, the result, or the exception raised)
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class CallQueue:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._waiting: deque[_Call] = deque()
        # True while a drain is queued or running: a call queued then is taken by it. Set and cleared
        # under the GIL; the drain looks at the queue again after clearing it, so no call is stranded.
        self._draining = False

    def queue(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """On an event loop: the future of fn(*args), run on the worker after every call queued before."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((fn, args, done, loop))
        if not self._draining:
            self._draining = True
            self._executor.submit(self._drain)
        return done

    def _drain(self) -> None:
        """On the worker: run calls until none is waiting."""
        try:
            while True:
                batch = self._take()
                if not batch:
                    self._draining = False
                    if not self._waiting:
                        return
                    self._draining = True  # a call arrived between the last take and clearing the flag
                    continue
                self._hand_back(batch, [_run(call) for call in batch])
        except BaseException:
            self._draining = False
            raise

    def _take(self) -> list[_Call]:
        batch: list[_Call] = []
        while self._waiting:
            batch.append(self._waiting.popleft())
        return batch

    @staticmethod
    def _hand_back(batch: list[_Call], outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for call, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(call[3], []).append(outcome)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, settled)


def _run(call: _Call) -> _Outcome:
    fn, args, done, _ = call
    try:
        return done, fn(*args), None
    except BaseException as exc:  # handed to the caller, as run_in_executor would
        return done, None, exc


def _settle(outcomes: list[_Outcome]) -> None:
    """On the callers' loop."""
    for done, result, exc in outcomes:
        if done.done():
            continue  # the caller gave up (timeout, cancellation); the call still ran to its end
        if exc is None:
            done.set_result(result)
        else:
            done.set_exception(exc)
