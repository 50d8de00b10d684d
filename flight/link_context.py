"""What the capabilities of one vehicle link (commands, parameters, mission transfer) work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from flight.clock import Clock
from flight.fanout import VehicleEventSource
from flight.link_config import LinkConfig
from flight.models import VehicleId

if TYPE_CHECKING:
    from flight.link_transport import MavlinkTransport
    from flight.vehicle_telemetry import VehicleTelemetry


class PublishState(Protocol):
    """Hands the vehicle's state to the link's subscribers (rate-limited unless forced)."""

    def __call__(self, *, force: bool = False) -> None:
        """Publish a fresh snapshot."""
        ...


@dataclass(frozen=True, slots=True)
class LinkContext:
    """The link's parts a capability shares: its connection, the vehicle's telemetry, its events."""

    vehicle_id: VehicleId
    config: LinkConfig
    clock: Clock
    transport: MavlinkTransport
    telemetry: VehicleTelemetry
    emit: VehicleEventSource
    require_link: Callable[[str], None]  # LinkLostError unless the link is up
