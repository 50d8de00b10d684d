"""Background tasks owned by a service object for the life of its `async with` block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self


class TaskOwner:
    """Runs spawned tasks in a TaskGroup; leaving the block cancels them and waits for them."""

    def __init__(self) -> None:
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Self:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        if self._tg is None:
            coro.close()
            raise RuntimeError(f"{type(self).__name__} is not running")
        task = self._tg.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
