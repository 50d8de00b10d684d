"""What the flight service asks of the other instances: the drones whose links are held elsewhere."""

from __future__ import annotations

from typing import Any, Protocol

from flight import CommandAck, VehicleState
from geofence import GeoPoint


class RemoteFlights(Protocol):
    """The flights of drones linked by another instance: their states, and operations on them."""

    def state_of(self, drone_id: str) -> VehicleState | None:
        """The drone's latest state as its holder shared it (None: no holder, or too old)."""
        ...

    def flight_of(self, drone_id: str) -> int | None:
        """The drone's unfinished flight as its holder shared it."""
        ...

    async def launch(
        self, drone_id: str, target: GeoPoint, *, call_id: int | None, **options: Any
    ) -> int:
        """Launch on the instance holding the drone's link; the flight's id."""
        ...

    async def retask(self, drone_id: str, target: GeoPoint, **options: Any) -> int:
        """Reassign in the air on the instance holding the drone's link; the new flight's id."""
        ...

    async def command(self, drone_id: str, flight_id: int, **options: Any) -> CommandAck:
        """A pilot command on the instance holding the drone's link."""
        ...

    async def recall(self, drone_id: str, flight_id: int, reason: str) -> None:
        """Recall on the instance holding the drone's link."""
        ...
