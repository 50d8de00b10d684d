from collections.abc import Sequence
from datetime import timedelta

import pytest

from telemetry import InMemoryTrackStore, TrackRecorder, TrackSample, TrackStoreError
from tests.telemetry.factories import frame


def test_the_first_frame_of_a_flight_is_kept_and_close_ones_are_not() -> None:
    recorder = TrackRecorder(InMemoryTrackStore(), min_interval_s=1.0, min_distance_m=3.0)
    assert recorder.observe(frame(step=0, flight_id=7)) is not None
    # 0.5 s later and ~5.5 m north: too soon.
    assert recorder.observe(frame(step=5, flight_id=7)) is None
    # 1.0 s later and ~11 m north: kept.
    kept = recorder.observe(frame(step=10, flight_id=7))
    assert kept is not None and kept.flight_id == 7
    assert recorder.pending(7) == 2


def test_a_hovering_drone_leaves_a_point_every_max_interval() -> None:
    recorder = TrackRecorder(InMemoryTrackStore(), max_interval_s=10.0)
    still = frame(step=0, flight_id=1)
    assert recorder.observe(still) is not None
    assert still.last_seen is not None
    later = still.model_copy(update={"last_seen": still.last_seen + timedelta(seconds=5)})
    assert recorder.observe(later) is None
    latest = still.model_copy(update={"last_seen": still.last_seen + timedelta(seconds=10)})
    assert recorder.observe(latest) is not None


def test_frames_without_a_flight_or_a_position_are_ignored() -> None:
    recorder = TrackRecorder(InMemoryTrackStore())
    assert recorder.observe(frame(step=0, flight_id=None)) is None
    no_fix = frame(step=0, flight_id=3).model_copy(update={"lat": None, "lon": None})
    assert recorder.observe(no_fix) is None


async def test_points_are_written_in_time_order_and_the_flight_forgotten_at_its_end() -> None:
    store = InMemoryTrackStore()
    recorder = TrackRecorder(store, flush_every=3)
    for step in range(0, 60, 10):
        recorder.observe(frame(step=step, flight_id=2))
    assert recorder.due() == [2]
    assert await recorder.end_flight(2) == 6
    times = [p.at for p in store.tracks[2]]
    assert times == sorted(times) and len(times) == 6
    assert recorder.pending(2) == 0 and recorder.due() == []


class _FailingStore:
    def __init__(self) -> None:
        self.fail = True
        self.kept: list[TrackSample] = []

    async def append_points(self, flight_id: int, points: Sequence[TrackSample]) -> None:
        if self.fail:
            raise TrackStoreError("database is locked")
        self.kept.extend(points)


async def test_points_a_store_refused_are_kept_for_the_next_flush() -> None:
    store = _FailingStore()
    recorder = TrackRecorder(store)
    recorder.observe(frame(step=0, flight_id=5))
    with pytest.raises(TrackStoreError):
        await recorder.flush()
    assert recorder.pending(5) == 1
    store.fail = False
    assert await recorder.flush() == 1
    assert len(store.kept) == 1
