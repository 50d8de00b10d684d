"""Locks by key: one holder per key at a time, and nothing kept for a key nobody holds."""

from __future__ import annotations

import asyncio

from dfr.keyed_locks import KeyedLocks


async def test_one_holder_per_key_at_a_time_while_other_keys_go_on() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    order: list[str] = []

    async def hold(key: int, name: str, seconds: float) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    first = asyncio.ensure_future(hold(1, "a", 0.05))
    await asyncio.sleep(0)
    await asyncio.gather(first, hold(1, "b", 0), hold(2, "c", 0))
    assert order.index("b in") > order.index("a out")
    assert order.index("c out") < order.index("a out")


async def test_a_key_nobody_holds_or_waits_for_keeps_no_lock() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    for key in range(100):
        async with locks.hold(key):
            assert len(locks) == 1
    assert len(locks) == 0


async def test_a_waiter_that_is_cancelled_leaves_no_lock_behind() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold(7):
            await release.wait()

    async def waiter() -> None:
        async with locks.hold(7):
            raise AssertionError("never gets the lock")

    held = asyncio.ensure_future(holder())
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)
    assert len(locks) == 1
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    await held
    assert len(locks) == 0
