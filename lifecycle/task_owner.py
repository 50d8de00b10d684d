"""Background tasks owned by a service object for the life of its `async with` block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Self


class TaskOwner:
    """Runs spawned tasks in a TaskGroup; leaving the block cancels them and waits for them.

    A subclass that holds more than tasks overrides the two hooks instead of the context manager:
    `_start` runs inside the group on entry (a failure there ends the tasks it spawned and
    propagates), `_stop` runs on exit once every task has ended.
    """

    def __init__(self) -> None:
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Self:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        try:
            await self._start()
        except BaseException:
            await self._end_tasks()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._end_tasks()
        await self._stop()

    async def _start(self) -> None:
        """Hook: acquire what the block holds besides tasks and spawn the first tasks."""

    async def _stop(self) -> None:
        """Hook: release what `_start` acquired (every task has ended by now)."""

    async def _end_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        tg, self._tg = self._tg, None
        if tg is not None:
            # A task's own failure was logged where it happened; shutting down must not raise it.
            with contextlib.suppress(Exception):
                await tg.__aexit__(None, None, None)

    @property
    def running(self) -> bool:
        """True inside the `async with` block."""
        return self._tg is not None

    def _spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        if self._tg is None:
            coro.close()
            raise RuntimeError(f"{type(self).__name__} is not running")
        task = self._tg.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
