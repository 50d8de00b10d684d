"""What the capabilities of one vehicle link (commands, parameters, mission transfer) work with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    #: Awaited before anything that commands the vehicle is sent: NotLinkHolderError when this
    #: process's lease on the link is gone (another instance may be commanding the vehicle now).
    fence: Fence


#: The fencing check of a link: raises NotLinkHolderError naming the operation, or returns.
Fence = Callable[[str], Awaitable[None]]


async def no_fence(operation: str) -> None:
    """The fence of a link no other process can hold (one instance, tools, tests)."""
