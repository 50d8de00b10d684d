"""Group commit: batches of what was submitted meanwhile, urgent items first, each waiter its own answer."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dfr.group_commit import GroupCommit


class _Recorder:
    """A batch function that records its batches; the first batch waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self, items: list[int]) -> list[int | Exception]:
        if not self.batches:
            self.entered.set()
            self.release.wait(5.0)
        self.batches.append(items)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def _started(recorder: _Recorder, group: GroupCommit[int, int]) -> None:
    """Once the first batch runs (and waits for `release`)."""
    assert await asyncio.to_thread(recorder.entered.wait, 5.0)
    assert group.waiting == 0


async def test_items_submitted_while_a_batch_runs_go_together_into_the_next() -> None:
    recorder = _Recorder()
    group = GroupCommit(recorder.run, executor=ThreadPoolExecutor(1), max_batch=100, name="t")
    first = asyncio.ensure_future(group.submit(0))
    await _started(recorder, group)
    later = [asyncio.ensure_future(group.submit(i)) for i in (2, 4, 6)]
    await asyncio.sleep(0.01)
    recorder.release.set()
    assert await first == 0 and [await f for f in later] == [20, 40, 60]
    assert recorder.batches == [[0], [2, 4, 6]] and group.batches == 2 and group.done == 4


async def test_the_most_urgent_rank_goes_first_and_a_batch_is_bounded() -> None:
    recorder = _Recorder()
    group = GroupCommit(recorder.run, executor=ThreadPoolExecutor(1), max_batch=2, name="t")
    first = asyncio.ensure_future(group.submit(0, rank=5))
    await _started(recorder, group)
    backlog = [asyncio.ensure_future(group.submit(i, rank=5)) for i in (10, 12, 14)]
    urgent = asyncio.ensure_future(group.submit(8, rank=1))
    await asyncio.sleep(0.01)
    recorder.release.set()
    await asyncio.gather(first, urgent, *backlog)
    assert recorder.batches == [[0], [8, 10], [12, 14]]


async def test_each_waiter_gets_its_own_error_and_the_others_their_results() -> None:
    recorder = _Recorder()
    recorder.release.set()
    group = GroupCommit(recorder.run, executor=ThreadPoolExecutor(1), max_batch=10, name="t")
    outcomes = await asyncio.gather(*(group.submit(i) for i in (2, 3, 4)), return_exceptions=True)
    assert outcomes[0] == 20 and outcomes[2] == 40
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "odd 3"


async def test_a_failing_batch_fails_every_waiter_in_it_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int | Exception]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return list(items)

    group = GroupCommit(run, executor=ThreadPoolExecutor(1), max_batch=10, name="t")
    with pytest.raises(RuntimeError, match="database gone"):
        await group.submit(1)
    assert await group.submit(2) == 2


@pytest.mark.parametrize(
    ("shield", "second_batch"),
    [(False, [4]), (True, [2, 4])],
    ids=["without shield the item is dropped", "with shield the item still runs"],
)
async def test_a_waiter_that_goes_away_before_its_batch(
    shield: bool, second_batch: list[int]
) -> None:
    recorder = _Recorder()
    group = GroupCommit(
        recorder.run, executor=ThreadPoolExecutor(1), max_batch=10, name="t", shield=shield
    )
    first = asyncio.ensure_future(group.submit(0))
    await _started(recorder, group)
    gone = asyncio.ensure_future(group.submit(2))
    kept = asyncio.ensure_future(group.submit(4))
    await asyncio.sleep(0.01)
    gone.cancel()
    recorder.release.set()
    assert await first == 0 and await kept == 40
    assert recorder.batches == [[0], second_batch]


async def test_pause_is_awaited_between_batches_with_the_last_batchs_seconds() -> None:
    recorder = _Recorder()
    paused: list[tuple[float, int]] = []

    async def pause(last_s: float) -> None:
        paused.append((last_s, group.waiting))

    group = GroupCommit(
        recorder.run, executor=ThreadPoolExecutor(1), max_batch=2, name="t", pause=pause
    )
    first = asyncio.ensure_future(group.submit(0))
    await _started(recorder, group)
    later = [asyncio.ensure_future(group.submit(i)) for i in (2, 4, 6)]
    await asyncio.sleep(0.05)
    recorder.release.set()
    await asyncio.gather(first, *later)
    # Not before the first batch; before each later one, with what the one before took.
    assert recorder.batches == [[0], [2, 4], [6]]
    assert [waiting for _, waiting in paused] == [3, 1]
    assert paused[0][0] >= 0.05  # the first batch waited for its release that long


async def test_idle_seconds_are_zero_while_items_wait_or_run_and_grow_after() -> None:
    recorder = _Recorder()
    group = GroupCommit(recorder.run, executor=ThreadPoolExecutor(1), max_batch=2, name="t")
    first = asyncio.ensure_future(group.submit(0))
    await _started(recorder, group)
    assert group.idle_s == 0.0
    recorder.release.set()
    await first
    await asyncio.sleep(0.02)
    assert group.idle_s >= 0.02
