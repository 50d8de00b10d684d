"""Vehicle states and events handed to every subscriber without letting a slow one hold the link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterable

from flight.clock import Clock
from flight.models import VehicleEvent, VehicleEventKind, VehicleId, VehicleState

StateListener = Callable[[VehicleState], None]
EventListener = Callable[[VehicleEvent], None]


class _PendingStates:
    """Latest state per vehicle for one subscriber, not yet read."""

    __slots__ = ("event", "pending")

    def __init__(self) -> None:
        self.pending: dict[VehicleId, VehicleState] = {}
        self.event = asyncio.Event()


class VehicleFanOut:
    """States (a slow reader skips to the latest) and events (bounded) to every stream and listener."""

    def __init__(self, *, events_maxsize: int) -> None:
        self._events_maxsize = events_maxsize
        self._state_subs: set[_PendingStates] = set()
        self._event_queues: set[asyncio.Queue[VehicleEvent]] = set()
        self._listeners: list[tuple[StateListener, EventListener]] = []

    @property
    def state_readers(self) -> int:
        """Open state streams."""
        return len(self._state_subs)

    def wants_states(self) -> bool:
        """True if a state published now reaches anyone."""
        return bool(self._state_subs or self._listeners)

    def wants_events(self) -> bool:
        """True if an event published now reaches anyone."""
        return bool(self._event_queues or self._listeners)

    def add_listener(self, on_state: StateListener, on_event: EventListener) -> Callable[[], None]:
        """Call back on every published state and event; returns the remover."""
        entry = (on_state, on_event)
        self._listeners.append(entry)

        def remove() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return remove

    def publish_state(self, state: VehicleState) -> None:
        """Hand a state to every stream and listener."""
        for sub in self._state_subs:
            sub.pending[state.vehicle_id] = state
            sub.event.set()
        for on_state, _ in self._listeners:
            on_state(state)

    def publish_event(self, event: VehicleEvent) -> None:
        """Hand an event to every listener and stream."""
        for _, on_event in self._listeners:
            on_event(event)
        for q in self._event_queues:
            if q.full():  # a stalled reader loses its oldest events, never blocks the link
                q.get_nowait()
            q.put_nowait(event)

    def wake_state_readers(self) -> None:
        """Let every state stream check whether it has ended."""
        for sub in self._state_subs:
            sub.event.set()

    async def states(
        self,
        initial: Callable[[], Iterable[VehicleState]],
        ended: Callable[[], bool] = lambda: False,
    ) -> AsyncGenerator[VehicleState, None]:
        """States from `initial()` on, latest per vehicle; returns once `ended()` after a wake-up."""
        sub = _PendingStates()
        self._state_subs.add(sub)
        try:
            for state in initial():
                sub.pending[state.vehicle_id] = state
            sub.event.set()
            while True:
                await sub.event.wait()
                sub.event.clear()
                batch, sub.pending = sub.pending, {}
                for state in batch.values():
                    yield state
                if ended():
                    return
        finally:
            self._state_subs.discard(sub)

    async def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Events from now on (bounded; a stalled reader drops the oldest)."""
        q: asyncio.Queue[VehicleEvent] = asyncio.Queue(maxsize=self._events_maxsize)
        self._event_queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._event_queues.discard(q)


class VehicleEventSource:
    """Makes one vehicle's events, stamped on its clock, and hands them to a fan-out."""

    def __init__(self, vehicle_id: VehicleId, clock: Clock, fanout: VehicleFanOut) -> None:
        self._vehicle_id = vehicle_id
        self._clock = clock
        self._fanout = fanout

    @property
    def clock(self) -> Clock:
        """The clock events are stamped with (vehicle time when sped up)."""
        return self._clock

    def __call__(
        self,
        kind: VehicleEventKind,
        detail: str,
        *,
        severity: int | None = None,
        value: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Emit one event of this vehicle (made only if someone receives it)."""
        if not self._fanout.wants_events():
            return
        self._fanout.publish_event(
            VehicleEvent(
                self._vehicle_id, self._clock.now(), kind, detail, severity, value, extra or {}
            )
        )
