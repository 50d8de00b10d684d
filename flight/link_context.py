"""What the capabilities of one vehicle link (commands, parameters, mission transfer) work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flight.clock import Clock
from flight.fanout import VehicleEventSource
from flight.link_config import LinkConfig
from flight.models import VehicleId

if TYPE_CHECKING:
    from flight.link_transport import MavlinkTransport
    from flight.vehicle_telemetry import VehicleTelemetry


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
