"""Flown-track recording: drone frames in, a downsampled list of points per flight out to a store.

A point is kept when the drone has moved `min_distance_m` and `min_interval_s` has passed since the
last kept point, or when `max_interval_s` has passed (so a hovering drone still leaves a trace), and
always for the first frame of a flight. Points are buffered and written in batches through the
`TrackStore` protocol, which dfr implements on its database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from geofence import GeoPoint, distance_m
from telemetry.errors import TrackStoreError
from telemetry.models import DroneFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrackSample:
    """One kept point of a flown track."""

    flight_id: int
    at: datetime
    lat: float
    lon: float
    alt_amsl_m: float | None
    alt_agl_m: float | None


class TrackStore(Protocol):
    """Where kept points go; raises TrackStoreError when it cannot keep them."""

    async def append_points(self, flight_id: int, points: Sequence[TrackSample]) -> None:
        """Append `points` (in time order) to flight `flight_id`'s track."""
        ...


@dataclass(slots=True)
class InMemoryTrackStore:
    """A TrackStore keeping points in a dict (tests, the demo without a database)."""

    tracks: dict[int, list[TrackSample]] = field(default_factory=dict)

    async def append_points(self, flight_id: int, points: Sequence[TrackSample]) -> None:
        """Append `points` to flight `flight_id`."""
        self.tracks.setdefault(flight_id, []).extend(points)


@dataclass(slots=True)
class _FlightTrack:
    last_kept: TrackSample | None = None
    buffer: list[TrackSample] = field(default_factory=list)


class TrackRecorder:
    """Downsamples each flight's frames into track points and writes them to a TrackStore."""

    def __init__(
        self,
        store: TrackStore,
        *,
        min_interval_s: float = 1.0,
        min_distance_m: float = 3.0,
        max_interval_s: float = 10.0,
        flush_every: int = 20,
    ) -> None:
        if min_interval_s < 0 or min_distance_m < 0 or max_interval_s <= 0 or flush_every < 1:
            raise ValueError("intervals and distances must not be negative; flush_every >= 1")
        self._store = store
        self.min_interval_s = min_interval_s
        self.min_distance_m = min_distance_m
        self.max_interval_s = max_interval_s
        self.flush_every = flush_every
        self._flights: dict[int, _FlightTrack] = {}

    def observe(self, frame: DroneFrame) -> TrackSample | None:
        """Consider `frame`; returns the point kept, or None (no flight, no position, too close)."""
        if frame.flight_id is None or frame.lat is None or frame.lon is None:
            return None
        if frame.last_seen is None:
            return None
        track = self._flights.setdefault(frame.flight_id, _FlightTrack())
        sample = TrackSample(
            flight_id=frame.flight_id,
            at=frame.last_seen,
            lat=frame.lat,
            lon=frame.lon,
            alt_amsl_m=frame.alt_amsl_m,
            alt_agl_m=frame.alt_agl_m,
        )
        last = track.last_kept
        if last is not None:
            elapsed_s = (sample.at - last.at).total_seconds()
            if elapsed_s <= 0:
                return None
            moved_m = distance_m(GeoPoint(last.lat, last.lon), GeoPoint(sample.lat, sample.lon))
            climbed_m = abs((sample.alt_amsl_m or 0.0) - (last.alt_amsl_m or 0.0))
            keep = elapsed_s >= self.max_interval_s or (
                elapsed_s >= self.min_interval_s and max(moved_m, climbed_m) >= self.min_distance_m
            )
            if not keep:
                return None
        track.last_kept = sample
        track.buffer.append(sample)
        return sample

    def pending(self, flight_id: int) -> int:
        """How many kept points of `flight_id` are not yet written."""
        track = self._flights.get(flight_id)
        return 0 if track is None else len(track.buffer)

    def due(self) -> list[int]:
        """Flights with at least `flush_every` points waiting."""
        return [fid for fid, t in self._flights.items() if len(t.buffer) >= self.flush_every]

    async def flush(self, flight_id: int | None = None) -> int:
        """Write waiting points (of one flight, or all); returns how many were written."""
        ids = [flight_id] if flight_id is not None else list(self._flights)
        written = 0
        for fid in ids:
            track = self._flights.get(fid)
            if track is None or not track.buffer:
                continue
            points, track.buffer = track.buffer, []
            try:
                await self._store.append_points(fid, points)
            except TrackStoreError:
                track.buffer = points + track.buffer  # kept for the next attempt
                raise
            written += len(points)
        return written

    async def end_flight(self, flight_id: int) -> int:
        """Write the rest of `flight_id`'s points and forget it; returns how many were written."""
        written = await self.flush(flight_id)
        self._flights.pop(flight_id, None)
        return written
