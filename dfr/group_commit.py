"""Group commit: work submitted while a batch runs goes into the next batch, and each waiter gets its own answer.

The batch runs on the caller's executor (blocking work: one database transaction for the lot). Items
wait in rank order (lowest first, then first come), so urgent work overtakes a backlog.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(order=True, slots=True)
class _Pending(Generic[T, R]):
    rank: int
    seq: int
    item: T = field(compare=False)
    done: asyncio.Future[R] = field(compare=False)


class GroupCommit(Generic[T, R]):
    """Runs `run(items)` for batches of submitted items, one batch at a time.

    `run` answers each item with its result or its exception, in order. When `run` itself raises,
    every waiter of that batch gets the exception. With `shield`, a waiter that goes away does not
    take its item out (it is still stored); without, a cancelled waiter's item is dropped if its
    batch has not started. `pause`, when given, is awaited between two batches with the seconds the
    last one took (to leave the process to more urgent work).
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | Exception]],
        *,
        executor: Executor,
        max_batch: int,
        name: str,
        shield: bool = True,
        pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_batch = max_batch
        self._name = name
        self._shield = shield
        self._pause = pause
        self._queue: list[_Pending[T, R]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._idle_since = time.monotonic()
        self.batches = 0
        self.done = 0

    @property
    def waiting(self) -> int:
        """Items not yet in a batch."""
        return len(self._queue)

    @property
    def idle_s(self) -> float:
        """Seconds since the last batch ended; 0 while items wait or a batch runs."""
        if self._queue or self._running:
            return 0.0
        return time.monotonic() - self._idle_since

    async def submit(self, item: T, *, rank: int = 0) -> R:
        """`item`'s result, once the batch it went into has run (its exception raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        heapq.heappush(self._queue, _Pending(rank, next(self._seq), item, done))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain(), name=self._name)
        return await (asyncio.shield(done) if self._shield else done)

    def _next_batch(self) -> list[_Pending[T, R]]:
        batch: list[_Pending[T, R]] = []
        while self._queue and len(batch) < self._max_batch:
            pending = heapq.heappop(self._queue)
            if not pending.done.done():
                batch.append(pending)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        last_s: float | None = None
        while self._queue:
            if last_s is not None and self._pause is not None:
                await self._pause(last_s)
            batch = self._next_batch()
            if not batch:
                continue
            started = time.monotonic()
            self._running = True
            try:
                results = await loop.run_in_executor(
                    self._executor, self._run, [p.item for p in batch]
                )
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(
                            exc
                            if isinstance(exc, Exception)
                            else RuntimeError(f"{self._name} stopped")
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            finally:
                self._running = False
                self._idle_since = time.monotonic()
                last_s = self._idle_since - started
            self.batches += 1
            self.done += len(batch)
            for p, result in zip(batch, results, strict=True):
                if p.done.done():
                    continue
                if isinstance(result, Exception):
                    p.done.set_exception(result)
                else:
                    p.done.set_result(result)
