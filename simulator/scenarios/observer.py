"""A passive MAVLink ground station: watches vehicles' GCS links the way a user's QGroundControl would.

It never sends a HEARTBEAT (PX4 counts only GCS heartbeats as a data link, and a scenario must not hide
a link loss); to make a vehicle's GCS link answer it, it sends SYSTEM_TIME, which any datagram would do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pymavlink.dialects.v20 import common as mavlink2

from simulator.scenarios.record import TrackPoint

log = logging.getLogger(__name__)

OBSERVER_SYSTEM_ID = 251
OBSERVER_COMPONENT_ID = 190
PX4_MAIN_MODE_SHIFT = 16
PX4_SUB_MODE_SHIFT = 24
_MAIN_MODES = {
    1: "MANUAL",
    2: "ALTCTL",
    3: "POSCTL",
    4: "AUTO",
    5: "ACRO",
    6: "OFFBOARD",
    7: "STAB",
}
_AUTO_SUB_MODES = {
    1: "READY",
    2: "TAKEOFF",
    3: "LOITER",
    4: "MISSION",
    5: "RTL",
    6: "LAND",
    8: "FOLLOW_TARGET",
    9: "PRECLAND",
}
MAV_LANDED_STATE_ON_GROUND = 1


def px4_mode_name(custom_mode: int) -> str:
    """PX4 custom_mode as `AUTO.RTL`, `POSCTL` ..."""
    main = (custom_mode >> PX4_MAIN_MODE_SHIFT) & 0xFF
    sub = (custom_mode >> PX4_SUB_MODE_SHIFT) & 0xFF
    name = _MAIN_MODES.get(main, f"MODE{main}")
    if main == 4:
        return f"AUTO.{_AUTO_SUB_MODES.get(sub, str(sub))}"
    return name


@dataclass(slots=True)
class ObservedVehicle:
    """What the observer has seen of one system id."""

    system_id: int
    address: tuple[str, int] | None = None
    last_heartbeat_s: float | None = None
    mode: str = ""
    armed: bool = False
    landed: bool | None = None
    lat: float | None = None
    lon: float | None = None
    alt_amsl_m: float | None = None
    alt_rel_m: float | None = None
    battery_fraction: float | None = None
    #: The camera gimbal's pitch (simulated fleets: the simulator's truth), 0 horizon, -90 down.
    gimbal_pitch_deg: float | None = None
    track: list[TrackPoint] = field(default_factory=list)
    status_texts: list[tuple[float, str]] = field(default_factory=list)
    modes_seen: list[tuple[float, str]] = field(default_factory=list)

    @property
    def in_air(self) -> bool:
        """Armed and not reported landed."""
        return self.armed and self.landed is not True

    def add_track_point(self, t_s: float) -> None:
        """Append the current position (height over home as its altitude) to the track."""
        assert self.lat is not None and self.lon is not None and self.alt_rel_m is not None
        self.track.append(
            TrackPoint(
                t_s=round(t_s, 3), lat=self.lat, lon=self.lon, alt_m=round(self.alt_rel_m, 2)
            )
        )


class MavlinkObserver(asyncio.DatagramProtocol):
    """Binds one loopback UDP port and decodes whatever vehicles send to it."""

    def __init__(
        self, track_interval_s: float = 0.25, now_s: Callable[[], float] = time.monotonic
    ) -> None:
        self.vehicles: dict[int, ObservedVehicle] = {}
        self._parsers: dict[tuple[str, int], Any] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._mav = mavlink2.MAVLink(
            None, srcSystem=OBSERVER_SYSTEM_ID, srcComponent=OBSERVER_COMPONENT_ID
        )
        self._t0 = now_s()
        self._now = now_s
        self._track_interval_s = track_interval_s
        self._poke_task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def open(self, port: int = 0) -> int:
        """Bind 127.0.0.1:`port` (0 = any free port); returns the port."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", port))
        assert self._transport is not None
        self.port = int(self._transport.get_extra_info("sockname")[1])
        return self.port

    def poke(self, targets: list[tuple[str, int]], interval_s: float = 1.0) -> None:
        """Keep telling these vehicle GCS ports where we are (SYSTEM_TIME, never a HEARTBEAT)."""
        if self._poke_task is not None:
            self._poke_task.cancel()
        self._poke_task = asyncio.get_running_loop().create_task(self._poke(targets, interval_s))

    async def _poke(self, targets: list[tuple[str, int]], interval_s: float) -> None:
        while self._transport is not None:
            msg = self._mav.system_time_encode(int(time.time() * 1e6), 0)
            buf = msg.pack(self._mav)
            for target in targets:
                self._transport.sendto(buf, target)
            await asyncio.sleep(interval_s)

    def close(self) -> None:
        """Stop listening."""
        if self._poke_task is not None:
            self._poke_task.cancel()
            self._poke_task = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport; CPython 3.11's selector transport does not subclass
        # asyncio.DatagramTransport, so an isinstance check here would refuse a working socket.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable while a vehicle is not yet up: expected.
        pass

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        key = (str(addr[0]), int(addr[1]))
        parser = self._parsers.get(key)
        if parser is None:
            parser = mavlink2.MAVLink(None)
            parser.robust_parsing = True
            self._parsers[key] = parser
        try:
            messages = parser.parse_buffer(data) or []
        except Exception:  # a broken frame never stops the observer
            self._parsers.pop(key, None)
            return
        for msg in messages:
            if msg.get_type() != "BAD_DATA":
                self._handle(key, msg)

    def _handle(self, addr: tuple[str, int], msg: Any) -> None:
        sysid = int(msg.get_srcSystem())
        if msg.get_srcComponent() != 1:
            return  # the camera and other components do not speak for the vehicle
        vehicle = self.vehicles.get(sysid)
        if vehicle is None:
            vehicle = self.vehicles[sysid] = ObservedVehicle(system_id=sysid)
        vehicle.address = addr
        now = self._now() - self._t0
        mtype = msg.get_type()
        if mtype == "HEARTBEAT":
            vehicle.last_heartbeat_s = now
            vehicle.armed = bool(msg.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED)
            mode = px4_mode_name(int(msg.custom_mode))
            if mode != vehicle.mode:
                vehicle.modes_seen.append((now, mode))
            vehicle.mode = mode
        elif mtype == "GLOBAL_POSITION_INT":
            vehicle.lat = msg.lat / 1e7
            vehicle.lon = msg.lon / 1e7
            vehicle.alt_amsl_m = msg.alt / 1000.0
            vehicle.alt_rel_m = msg.relative_alt / 1000.0
            last = vehicle.track[-1].t_s if vehicle.track else -1e9
            if now - last >= self._track_interval_s:
                vehicle.add_track_point(now)
        elif mtype == "SYS_STATUS" and msg.battery_remaining >= 0:
            vehicle.battery_fraction = msg.battery_remaining / 100.0
        elif mtype == "EXTENDED_SYS_STATE":
            vehicle.landed = msg.landed_state == MAV_LANDED_STATE_ON_GROUND
        elif mtype == "STATUSTEXT":
            text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
            vehicle.status_texts.append((now, text.rstrip("\0")))

    async def wait_heartbeat(self, timeout_s: float, system_id: int | None = None) -> bool:
        """True once a heartbeat (of `system_id`, or any) has arrived within `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            for vehicle in self.vehicles.values():
                if vehicle.last_heartbeat_s is not None and system_id in (None, vehicle.system_id):
                    return True
            await asyncio.sleep(0.05)
        return False
