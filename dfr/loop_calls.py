"""Calling into the service's event loop from whichever thread a caller is on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVarTuple

Args = TypeVarTuple("Args")


def call_on_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[[*Args], object], *args: *Args
) -> bool:
    """Run `callback` on the loop's thread: now if called there, else handed over; False if closed."""
    if loop.is_closed():
        return False  # the service has stopped: nobody is listening
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None  # a worker thread: no loop of its own
    if running is loop:
        callback(*args)
        return True
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        return False  # closed between the check and the call
    return True
