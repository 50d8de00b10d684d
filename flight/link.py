"""The `VehicleLink` interface: one drone's MAVLink link as the rest of DFR sees it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol, runtime_checkable

from flight.mission_items import MissionItem, MissionType
from flight.models import CommandAck, LinkHealth, LinkState, VehicleEvent, VehicleId, VehicleState
from geofence import Altitude, GeoPoint


@runtime_checkable
class VehicleLink(Protocol):
    """A live link to one vehicle. Every operation has a deadline.

    Operations raise `LinkLostError` (nothing sent) when the link is lost, `LinkTimeoutError` when
    the vehicle does not answer after all retries, `CommandRejectedError` with the MAV_RESULT and
    STATUSTEXT when it refuses, `MissionTransferError` for mission/fence/rally transfers,
    `SafetyConfigError` when failsafe parameters are not confirmed, and `InvalidCommandError` for bad
    arguments (refused before anything is sent).
    """

    @property
    def vehicle_id(self) -> VehicleId:
        """Our id of this vehicle."""
        ...

    @property
    def link_state(self) -> LinkState:
        """Current link state."""
        ...

    def health(self) -> LinkHealth:
        """Link quality now."""
        ...

    def state(self) -> VehicleState:
        """Latest normalised state snapshot."""
        ...

    def states(self) -> AsyncGenerator[VehicleState, None]:
        """Stream of state snapshots (latest-value semantics: a slow reader skips, never lags)."""
        ...

    def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Stream of link, mode, armed, landed, STATUSTEXT and mission events."""
        ...

    async def wait_connected(self, timeout_s: float) -> VehicleState:
        """Wait until the vehicle's heartbeat is heard; raises LinkTimeoutError."""
        ...

    async def upload_fence(self, items: Sequence[MissionItem]) -> None:
        """Upload fence items, then download and compare them."""
        ...

    async def upload_mission(self, items: Sequence[MissionItem]) -> None:
        """Upload mission items, then download and compare them."""
        ...

    async def upload_rally(self, items: Sequence[MissionItem]) -> None:
        """Upload rally points, then download and compare them."""
        ...

    async def download_mission(
        self, mission_type: MissionType = MissionType.MISSION
    ) -> list[MissionItem]:
        """Download the vehicle's mission, fence or rally items (used to adopt a flight)."""
        ...

    async def clear_mission(self, mission_type: MissionType = MissionType.MISSION) -> None:
        """Clear the vehicle's mission, fence or rally items."""
        ...

    async def set_mission_current(self, seq: int) -> None:
        """Continue the mission at item `seq` (release from the scene loiter onto the return)."""
        ...

    async def apply_safety_config(self) -> None:
        """Set the agency's failsafe parameters and read them back; SafetyConfigError if not confirmed."""
        ...

    async def arm(self) -> CommandAck:
        """Apply the safety configuration, then arm."""
        ...

    async def start_mission(self) -> CommandAck:
        """Switch to AUTO.MISSION, retrying while PX4 is still validating a fresh upload."""
        ...

    async def hold(self) -> CommandAck:
        """Pause where the vehicle is (AUTO.LOITER)."""
        ...

    async def resume(self) -> CommandAck:
        """Continue the mission (AUTO.MISSION)."""
        ...

    async def goto(
        self, point: GeoPoint, alt: Altitude, speed_mps: float | None = None
    ) -> CommandAck:
        """Fly to a point and hold there (DO_REPOSITION)."""
        ...

    async def orbit(
        self, center: GeoPoint, radius_m: float, speed_mps: float, alt: Altitude | None = None
    ) -> CommandAck:
        """Orbit a point (DO_ORBIT); alt None keeps the current altitude."""
        ...

    async def change_speed(self, speed_mps: float) -> CommandAck:
        """Change ground speed (DO_CHANGE_SPEED)."""
        ...

    async def aim_camera(self, pitch_deg: float, yaw_deg: float = 0.0) -> CommandAck:
        """Point the camera gimbal (gimbal manager protocol): pitch 0 horizon, -90 down."""
        ...

    async def return_to_launch(self) -> CommandAck:
        """Return to launch (AUTO.RTL)."""
        ...

    async def land(self) -> CommandAck:
        """Land at the current position."""
        ...

    async def disarm(self) -> CommandAck:
        """Disarm (PX4 refuses in the air)."""
        ...
