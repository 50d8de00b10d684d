"""`VehicleLink` over MAVLink with pymavlink and pure asyncio: one UDP socket per drone, one process.

Why pymavlink and not MAVSDK, measured with `python bench/link.py --compare-mavsdk` on the 2-core
machine (bench/README.md "link"): with PX4 SITL's onboard-link rates (≈320 msg/s per drone) 50 drones
cost this link 10.5–15.5 % of one core against 24.7–30.3 % for mavsdk 4.1 (0.43–0.51×); at GCS-link
rates 200 drones cost 12.5–13.0 % against 12.7–16.3 %, but mavsdk ran 207 threads and delivered only
67–75 % of the positions sent. RSS: 78 MB against 97 MB at 200 drones. mavsdk 4.1 is a ctypes binding
over the C++ core: every awaited call occupies a thread of the loop's default executor (6 here), so
uploads and commands across a fleet queue unless the executor is sized for the fleet, and each value
crosses a thread. Faithfulness decided it too: PX4 specifics MAVSDK hides are explicit here (first
non-INT MISSION_REQUEST, MISSION_START/AUTO.MISSION refused right after upload, bytewise INT32
params, pause = Hold, not DO_PAUSE_CONTINUE), and errors keep PX4's own MAV_RESULT and STATUSTEXT.
Here the receive path runs in the event loop: a datagram is split into frames by reading the MAVLink
header only, and `MAVLink.decode` (CRC check + unpack) runs only for the message ids the link uses;
high-rate position messages are decoded at most `state_rate_hz` times a second. Frames we do not need
still count for packet loss (sequence numbers) but cost no decode. The PX4 specifics MAVSDK would
hide are explicit here and documented inline (first non-INT MISSION_REQUEST, MISSION_START denied right
after upload, bytewise INT32 params, pause = Hold).

Connection URLs follow the PX4/MAVSDK forms: `udpin://127.0.0.1:14541` (listen; answer whoever sent
last, as PX4 does), `udpout://host:port` (send first), `tcp://host:port` (tcpout, reconnect with
backoff); `serial://` raises UnsupportedConnectionError.

Our GCS identity defaults to sysid 245 / compid 190 (MAV_COMP_ID_MISSIONPLANNER), as MAVSDK uses: QGC
uses 255, so a pilot's QGC on the same vehicle never shares our system id and sequence counter, and PX4
accepts mission transfers addressed from/to compid 190.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from pymavlink.dialects.v20 import common as mavlink

from flight.clock import Clock, SystemClock
from flight.errors import (
    CommandRejectedError,
    InvalidCommandError,
    LinkLostError,
    LinkTimeoutError,
    MissionTransferError,
    SafetyConfigError,
    UnsupportedConnectionError,
)
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.models import (
    CommandAck,
    FlightMode,
    LandedState,
    LinkHealth,
    LinkState,
    SafetyConfig,
    VehicleEvent,
    VehicleEventKind,
    VehicleId,
    VehicleState,
    decode_px4_mode,
    px4_mode_code,
)
from geofence import Altitude, AltitudeDatum, GeoPoint

logger = logging.getLogger(__name__)

_MAV_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
    7: "COMMAND_LONG_ONLY",
    8: "COMMAND_INT_ONLY",
}
_MISSION_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "ERROR",
    2: "UNSUPPORTED_FRAME",
    3: "UNSUPPORTED",
    4: "NO_SPACE",
    5: "INVALID",
    6: "INVALID_PARAM1",
    7: "INVALID_PARAM2",
    8: "INVALID_PARAM3",
    9: "INVALID_PARAM4",
    10: "INVALID_PARAM5_X",
    11: "INVALID_PARAM6_Y",
    12: "INVALID_PARAM7",
    13: "INVALID_SEQUENCE",
    14: "DENIED",
    15: "OPERATION_CANCELLED",
}

# Message ids the link decodes; every other frame is only counted.
_HEARTBEAT = 0
_SYS_STATUS = 1
_PARAM_VALUE = 22
_GPS_RAW_INT = 24
_GLOBAL_POSITION_INT = 33
_MISSION_REQUEST = 40
_MISSION_CURRENT = 42
_MISSION_COUNT = 44
_MISSION_ITEM_REACHED = 46
_MISSION_ACK = 47
_MISSION_REQUEST_INT = 51
_MISSION_ITEM_INT = 73
_VFR_HUD = 74
_COMMAND_ACK = 77
_TIMESYNC = 111
_BATTERY_STATUS = 147
_HOME_POSITION = 242
_EXTENDED_SYS_STATE = 245
_STATUSTEXT = 253
_WANTED = frozenset(
    {
        _HEARTBEAT,
        _SYS_STATUS,
        _PARAM_VALUE,
        _GPS_RAW_INT,
        _GLOBAL_POSITION_INT,
        _MISSION_REQUEST,
        _MISSION_CURRENT,
        _MISSION_COUNT,
        _MISSION_ITEM_REACHED,
        _MISSION_ACK,
        _MISSION_REQUEST_INT,
        _MISSION_ITEM_INT,
        _VFR_HUD,
        _COMMAND_ACK,
        _TIMESYNC,
        _BATTERY_STATUS,
        _HOME_POSITION,
        _EXTENDED_SYS_STATE,
        _STATUSTEXT,
    }
)
# High-rate telemetry decoded at most state_rate_hz times a second (PX4 SITL streams them at 50 Hz).
_RATE_LIMITED = frozenset(
    {_GLOBAL_POSITION_INT, _VFR_HUD, _GPS_RAW_INT, _SYS_STATUS, _BATTERY_STATUS}
)
_KNOWN_IDS = frozenset(mavlink.mavlink_map)
_MISSION_MSGS = frozenset(
    {_MISSION_REQUEST, _MISSION_REQUEST_INT, _MISSION_ACK, _MISSION_COUNT, _MISSION_ITEM_INT}
)

_MAV_TYPE_GCS = 6
_MAV_AUTOPILOT_INVALID = 8
_MAV_STATE_ACTIVE = 4
_MODE_FLAG_CUSTOM = 1
_MODE_FLAG_ARMED = 128
_PARAM_TYPE_INT32 = 6
_PARAM_TYPE_REAL32 = 9
_CMD_ARM_DISARM = 400
_CMD_DO_SET_MODE = 176
_CMD_DO_REPOSITION = 192
_CMD_DO_ORBIT = 34
_CMD_DO_CHANGE_SPEED = 178
_CMD_NAV_LAND = 21
_CMD_REQUEST_MESSAGE = 512
_MAV_FRAME_GLOBAL_INT = 5
_MISSION_ACK_UNSUPPORTED = 3


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed connection URL."""

    scheme: str  # udpin | udpout | tcp
    host: str
    port: int


def parse_connection_url(url: str, vehicle_id: str = "?") -> Endpoint:
    """Parse a PX4-style connection URL; raises UnsupportedConnectionError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "serial":
        raise UnsupportedConnectionError(vehicle_id, f"serial links are not supported yet: {url!r}")
    if scheme == "tcpout":
        scheme = "tcp"
    if scheme not in ("udpin", "udpout", "tcp"):
        raise UnsupportedConnectionError(
            vehicle_id, f"unsupported connection URL {url!r} (use udpin://, udpout://, tcp://)"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UnsupportedConnectionError(vehicle_id, f"bad port in {url!r}") from exc
    if not host or port is None or not 0 < port < 65536:
        raise UnsupportedConnectionError(vehicle_id, f"connection URL {url!r} needs host:port")
    if scheme == "udpout" and host == "0.0.0.0":
        raise UnsupportedConnectionError(vehicle_id, "udpout needs a destination host, not 0.0.0.0")
    return Endpoint(scheme, host, port)


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Timing, identity and safety settings of a vehicle link (times in clock seconds unless noted)."""

    gcs_sysid: int = 245
    gcs_compid: int = 190
    heartbeat_period_s: float = 1.0
    degraded_after_s: float = 2.0  # heartbeat age that marks the link degraded
    lost_after_s: float = 3.5  # heartbeat age that marks it lost
    degraded_loss_pct: float = 20.0
    # Protocol retry timers are real seconds: they cover network round trips, not vehicle time.
    command_timeout_s: float = 0.5
    command_retries: int = 3
    command_in_progress_timeout_s: float = 3.0
    mission_timeout_s: float = 0.5
    mission_retries: int = 5
    param_timeout_s: float = 0.5
    param_retries: int = 3
    mission_start_window_s: float = 5.0  # clock seconds PX4 may refuse AUTO.MISSION after upload
    mission_start_retry_s: float = 0.25
    state_rate_hz: float = 10.0
    orbit_radius_min_m: float = 5.0
    orbit_radius_max_m: float = 1000.0
    speed_max_mps: float = 25.0
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    verify_uploads: bool = True


class _Transport(asyncio.DatagramProtocol, asyncio.Protocol):
    """Feeds received bytes to the link; one instance per socket."""

    def __init__(self, link: MavlinkVehicleLink, stream: bool) -> None:
        self._link = link
        self._stream = stream
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._link._on_datagram(data, addr)

    def data_received(self, data: bytes) -> None:
        self._link._on_stream(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable on udpout while the vehicle is down: the watchdog reports it.
        logger.debug("udp error on %s: %s", self._link.vehicle_id, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _Mailbox:
    """Latest-value slot for one states() subscriber."""

    __slots__ = ("event", "value")

    def __init__(self) -> None:
        self.value: VehicleState | None = None
        self.event = asyncio.Event()


def _f32_bits_from_int(value: int) -> float:
    return float(struct.unpack("<f", struct.pack("<i", value))[0])


def _int_from_f32_bits(value: float) -> int:
    return int(struct.unpack("<i", struct.pack("<f", value))[0])


def item_from_mavlink(msg: Any) -> MissionItem:
    """A MissionItem from a decoded MISSION_ITEM_INT."""
    try:
        command: MavCmd | int = MavCmd(msg.command)
    except ValueError:
        command = int(msg.command)
    try:
        frame: MavFrame | int = MavFrame(msg.frame)
    except ValueError:
        frame = int(msg.frame)
    return MissionItem(
        command=command,
        frame=frame,
        param1=float(msg.param1),
        param2=float(msg.param2),
        param3=float(msg.param3),
        param4=float(msg.param4),
        x=int(msg.x),
        y=int(msg.y),
        z=float(msg.z),
        autocontinue=bool(msg.autocontinue),
        mission_type=MissionType(getattr(msg, "mission_type", 0)),
    )


def _f_eq(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-4)


def stored_like(sent: MissionItem, got: MissionItem) -> bool:
    """True if `got` (downloaded) is how PX4 stores `sent`.

    Fence and rally items keep only command, frame, position, altitude and (fence) vertex count or
    radius in PX4's storage, so the other params are not compared for them.
    """
    if sent.mission_type == MissionType.MISSION:
        return sent.same_on_wire(got)
    same = (
        int(sent.command) == int(got.command)
        and int(sent.frame) == int(got.frame)
        and sent.x == got.x
        and sent.y == got.y
        and _f_eq(sent.z, got.z)
        and int(sent.mission_type) == int(got.mission_type)
    )
    if sent.mission_type == MissionType.FENCE:
        same = same and _f_eq(sent.param1, got.param1)
    return same


class MavlinkVehicleLink:
    """A `VehicleLink` to one PX4 vehicle over MAVLink 2 (see module docstring)."""

    def __init__(
        self,
        vehicle_id: VehicleId,
        url: str,
        *,
        sysid: int | None = None,
        config: LinkConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._vehicle_id = vehicle_id
        self._endpoint = parse_connection_url(url, vehicle_id)
        self.url = url
        self._cfg = config or LinkConfig()
        self._clock: Clock = clock or SystemClock()
        self._target_sysid = sysid  # None: adopt the first autopilot heartbeat's sysid
        self._target_compid = 1
        self._mav = mavlink.MAVLink(None, self._cfg.gcs_sysid, self._cfg.gcs_compid)
        self._mav.robust_parsing = True
        self._transport: asyncio.BaseTransport | None = None
        self._remote: tuple[str, int] | None = None
        self._stream_buf = b""
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        # link health
        self._link_state = LinkState.CONNECTING
        self._last_hb_mono: float | None = None
        self._last_seen: datetime | None = None
        self._seq: dict[tuple[int, int], int] = {}
        self._win_received = 0
        self._win_missed = 0
        self._loss_pct = 0.0
        self._rtt_ms: float | None = None
        self._messages_received = 0
        self._bad_frames = 0
        self._decoded_at: dict[int, float] = {}
        self._timesync_sent: dict[int, float] = {}
        # vehicle state accumulators
        self._position: GeoPoint | None = None
        self._alt_amsl_m: float | None = None
        self._alt_rel_m: float | None = None
        self._heading_deg: float | None = None
        self._ground_speed_mps: float | None = None
        self._climb_mps: float | None = None
        self._battery_pct: float | None = None
        self._battery_v: float | None = None
        self._have_battery_status = False
        self._mode = FlightMode.UNKNOWN
        self._armed = False
        self._landed = LandedState.UNDEFINED
        self._gps_fix: int | None = None
        self._gps_sats: int | None = None
        self._mission_seq: int | None = None
        self._mission_total: int | None = None
        self._mission_state: int | None = None
        self._mission_reached: int | None = None
        self._home: GeoPoint | None = None
        self._home_alt_amsl_m: float | None = None
        self._system_status: int | None = None
        self._last_publish = -math.inf
        # subscribers and waiters
        self._mailboxes: set[_Mailbox] = set()
        self._event_queues: set[asyncio.Queue[VehicleEvent]] = set()
        self._listeners: list[
            tuple[Callable[[VehicleState], None], Callable[[VehicleEvent], None]]
        ] = []
        self._waiters: list[tuple[frozenset[int], Callable[[Any], bool], asyncio.Future[Any]]] = []
        self._mission_queue: asyncio.Queue[Any] | None = None
        self._statustexts: deque[tuple[float, int, str]] = deque(maxlen=32)
        self._command_lock = asyncio.Lock()
        self._mission_lock = asyncio.Lock()
        self._param_lock = asyncio.Lock()
        self._connected = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def vehicle_id(self) -> VehicleId:
        """Our id of this vehicle."""
        return self._vehicle_id

    @property
    def link_state(self) -> LinkState:
        """Current link state."""
        return self._link_state

    @property
    def sysid(self) -> int | None:
        """The vehicle's MAVLink system id (learned from its heartbeat if not given)."""
        return self._target_sysid

    async def __aenter__(self) -> Self:
        # Standalone use (tests, tools): the link owns its run() task and awaits it on exit.
        # In the service, FleetLink runs run() inside its TaskGroup instead.
        self._run_task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = self._run_task
        self.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        """Stop the link; run() returns and streams end."""
        self._closing = True
        if self._run_task is not None:
            self._run_task.cancel()
        if self._transport is not None:
            self._transport.close()

    def reopen(self) -> None:
        """Allow run() again after a crash (the supervisor restarts it)."""
        self._closing = False
        self._link_state = LinkState.CONNECTING

    async def run(self) -> None:
        """Open the connection and keep it alive (heartbeat, watchdog, reconnect) until closed."""
        self._run_task = asyncio.current_task()
        backoff_s = 0.5
        try:
            while not self._closing:
                try:
                    closed = await self._open()
                except OSError as exc:
                    logger.warning(
                        "link %s: cannot open %s: %s",
                        self._vehicle_id,
                        self.url,
                        exc,
                        extra={"vehicle_id": self._vehicle_id},
                    )
                    self._set_link_state(LinkState.LOST, f"cannot open {self.url}: {exc}")
                    await self._clock.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, 10.0)
                    continue
                backoff_s = 0.5
                try:
                    async with asyncio.TaskGroup() as tg:
                        hb = tg.create_task(self._heartbeat_loop())
                        wd = tg.create_task(self._watchdog_loop())
                        await closed
                        hb.cancel()
                        wd.cancel()
                finally:
                    if self._transport is not None:
                        self._transport.close()
                        self._transport = None
                if not self._closing:  # a TCP peer went away: reconnect
                    self._set_link_state(LinkState.LOST, "connection closed by peer")
                    await self._clock.sleep(backoff_s)
        finally:
            self._set_link_state(LinkState.CLOSED, "link closed")
            for mb in list(self._mailboxes):
                mb.event.set()

    async def _open(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        ep = self._endpoint
        proto: _Transport
        transport: asyncio.BaseTransport
        if ep.scheme == "udpin":
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _Transport(self, stream=False), local_addr=(ep.host, ep.port)
            )
        elif ep.scheme == "udpout":
            self._remote = (ep.host, ep.port)
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _Transport(self, stream=False), remote_addr=(ep.host, ep.port)
            )
        else:
            async with asyncio.timeout(5.0):
                transport, proto = await loop.create_connection(
                    lambda: _Transport(self, stream=True), ep.host, ep.port
                )
            self._stream_buf = b""
        self._transport = transport
        return proto.closed

    def local_port(self) -> int | None:
        """Bound local UDP/TCP port (useful with port 0)."""
        if self._transport is None:
            return None
        sock = self._transport.get_extra_info("sockname")
        return int(sock[1]) if sock else None

    # ------------------------------------------------------------------ sending

    def _send(self, msg: Any) -> None:
        transport = self._transport
        if transport is None:
            return
        data = msg.pack(self._mav)
        # pack() does not advance the sequence number (MAVLink.send() would); the vehicle counts
        # its received-packet loss from it.
        self._mav.seq = (self._mav.seq + 1) % 256
        scheme = self._endpoint.scheme
        if scheme == "tcp":
            transport.write(data)  # type: ignore[attr-defined]
        elif scheme == "udpout":
            transport.sendto(data)  # type: ignore[attr-defined]
        elif self._remote is not None:
            transport.sendto(data, self._remote)  # type: ignore[attr-defined]

    async def _heartbeat_loop(self) -> None:
        # PX4 infers GCS presence (and data-link loss) from these; period is vehicle time.
        while True:
            self._send(
                self._mav.heartbeat_encode(
                    _MAV_TYPE_GCS, _MAV_AUTOPILOT_INVALID, 0, 0, _MAV_STATE_ACTIVE
                )
            )
            if self._link_state in (LinkState.CONNECTED, LinkState.DEGRADED):
                ts1 = time.monotonic_ns()
                self._timesync_sent[ts1] = time.monotonic()
                if len(self._timesync_sent) > 8:
                    self._timesync_sent.pop(next(iter(self._timesync_sent)))
                self._send(self._mav.timesync_encode(0, ts1))
                if self._home is None:
                    self._send_command_long(
                        _CMD_REQUEST_MESSAGE, (_HOME_POSITION, 0, 0, 0, 0, 0, 0)
                    )
            await self._clock.sleep(self._cfg.heartbeat_period_s)

    async def _watchdog_loop(self) -> None:
        tick_s = 0.2
        window_start = self._clock.monotonic()
        while True:
            await self._clock.sleep(tick_s)
            now = self._clock.monotonic()
            if now - window_start >= 2.0:
                total = self._win_received + self._win_missed
                if total:
                    self._loss_pct = 100.0 * self._win_missed / total
                self._win_received = self._win_missed = 0
                window_start = now
            self._evaluate_health(now)

    def _evaluate_health(self, now: float) -> None:
        if self._last_hb_mono is None:
            return
        age = now - self._last_hb_mono
        if age > self._cfg.lost_after_s:
            self._set_link_state(LinkState.LOST, f"no heartbeat for {age:.1f} s")
        elif age > self._cfg.degraded_after_s or self._loss_pct > self._cfg.degraded_loss_pct:
            self._set_link_state(
                LinkState.DEGRADED, f"heartbeat age {age:.1f} s, loss {self._loss_pct:.0f} %"
            )
        else:
            self._set_link_state(LinkState.CONNECTED, "heartbeat regular")

    def _set_link_state(self, new: LinkState, why: str) -> None:
        if new == self._link_state:
            return
        if self._link_state == LinkState.CLOSED:
            return
        old = self._link_state
        self._link_state = new
        if new in (LinkState.CONNECTED, LinkState.DEGRADED):
            self._connected.set()
        else:
            self._connected.clear()
        log = logger.warning if new == LinkState.LOST else logger.info
        log("link %s: %s -> %s (%s)", self._vehicle_id, old, new, why)
        self._emit(VehicleEventKind.LINK, f"{old} -> {new}: {why}", extra={"state": str(new)})
        self._publish(force=True)

    # ------------------------------------------------------------------ receiving

    def _on_datagram(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._endpoint.scheme == "udpin" and len(data) > 5:
            # Answer whoever sent last, as PX4 itself does with its partner address, but only when
            # the datagram comes from our vehicle (another system on the port must not hijack it).
            sysid = data[5] if data[0] == 0xFD else data[3] if data[0] == 0xFE else None
            if sysid is not None and (self._target_sysid is None or sysid == self._target_sysid):
                self._remote = (str(addr[0]), int(addr[1]))
        self._parse(data)

    def _on_stream(self, data: bytes) -> None:
        self._stream_buf = self._parse(self._stream_buf + data)

    def _parse(self, buf: bytes) -> bytes:
        """Split `buf` into frames, decode the wanted ones; returns an incomplete tail."""
        i = 0
        n = len(buf)
        now_real = time.monotonic()
        while i < n:
            magic = buf[i]
            if magic == 0xFD:
                if n - i < 10:
                    break
                flen = 12 + buf[i + 1] + (13 if buf[i + 2] & 1 else 0)
                seq, sysid, compid = buf[i + 4], buf[i + 5], buf[i + 6]
                msgid = buf[i + 7] | (buf[i + 8] << 8) | (buf[i + 9] << 16)
            elif magic == 0xFE:
                if n - i < 6:
                    break
                flen = 8 + buf[i + 1]
                seq, sysid, compid, msgid = buf[i + 2], buf[i + 3], buf[i + 4], buf[i + 5]
            else:
                i += 1  # resync on the next start byte
                continue
            if n - i < flen:
                break
            if self._target_sysid is not None and sysid != self._target_sysid:
                i += flen  # another system on the same port (a GCS, another vehicle)
                continue
            if msgid not in _KNOWN_IDS:
                # Not a frame of our dialect: most likely noise that happens to hold a start byte.
                self._bad_frames += 1
                i += 1
                continue
            msg = None
            if msgid in _WANTED and not (
                msgid in _RATE_LIMITED
                and now_real - self._decoded_at.get(msgid, -math.inf)
                < 1.0 / self._cfg.state_rate_hz
            ):
                try:
                    msg = self._mav.decode(bytearray(buf[i : i + flen]))
                except (mavlink.MAVError, struct.error, IndexError, ValueError):
                    self._bad_frames += 1
                    i += 1
                    continue
                self._decoded_at[msgid] = now_real
            self._count_seq(sysid, compid, seq)
            i += flen
            if msg is not None:
                try:
                    self._handle(msg, sysid, compid)
                except Exception:  # a malformed field must not kill the link
                    self._bad_frames += 1
                    logger.exception("link %s: cannot handle %s", self._vehicle_id, msgid)
        return buf[i:]

    def _count_seq(self, sysid: int, compid: int, seq: int) -> None:
        self._messages_received += 1
        self._win_received += 1
        key = (sysid, compid)
        last = self._seq.get(key)
        self._seq[key] = seq
        if last is not None:
            gap = (seq - last - 1) & 0xFF
            if gap < 128:  # larger gaps are reordering or a peer restart
                self._win_missed += gap

    def _handle(self, msg: Any, sysid: int, compid: int) -> None:
        mid = msg.get_msgId()
        if mid == _HEARTBEAT:
            if msg.autopilot == _MAV_AUTOPILOT_INVALID or msg.type == _MAV_TYPE_GCS:
                return  # a GCS or companion, not the autopilot
            if self._target_sysid is None:
                self._target_sysid = sysid
            self._target_compid = compid
            self._on_heartbeat(msg)
        elif mid == _GLOBAL_POSITION_INT:
            if msg.lat != 0 or msg.lon != 0:
                self._position = GeoPoint(msg.lat / 1e7, msg.lon / 1e7)
            self._alt_amsl_m = msg.alt / 1000.0
            self._alt_rel_m = msg.relative_alt / 1000.0
            if msg.hdg != 65535:
                self._heading_deg = msg.hdg / 100.0
            self._ground_speed_mps = math.hypot(msg.vx, msg.vy) / 100.0
            self._climb_mps = -msg.vz / 100.0
            self._publish()
        elif mid == _VFR_HUD:
            self._ground_speed_mps = float(msg.groundspeed)
        elif mid == _GPS_RAW_INT:
            self._gps_fix = int(msg.fix_type)
            self._gps_sats = None if msg.satellites_visible == 255 else int(msg.satellites_visible)
        elif mid == _SYS_STATUS:
            if msg.battery_remaining >= 0 and not self._have_battery_status:
                self._battery_pct = float(msg.battery_remaining)
            if msg.voltage_battery not in (0, 65535) and not self._have_battery_status:
                self._battery_v = msg.voltage_battery / 1000.0
        elif mid == _BATTERY_STATUS:
            self._have_battery_status = True
            if msg.battery_remaining >= 0:
                self._battery_pct = float(msg.battery_remaining)
            cells = [v for v in msg.voltages if v not in (65535, 0)]
            if cells:
                # PX4 puts the pack voltage in voltages[0] when it has no per-cell values.
                self._battery_v = sum(cells) / 1000.0
        elif mid == _EXTENDED_SYS_STATE:
            landed = (
                LandedState(msg.landed_state) if msg.landed_state <= 4 else LandedState.UNDEFINED
            )
            if landed != self._landed:
                self._landed = landed
                self._emit(VehicleEventKind.LANDED_STATE, landed.name, value=int(landed))
                self._publish(force=True)
        elif mid == _HOME_POSITION:
            self._home = GeoPoint(msg.latitude / 1e7, msg.longitude / 1e7)
            self._home_alt_amsl_m = msg.altitude / 1000.0
        elif mid == _MISSION_CURRENT:
            seq = int(msg.seq)
            total = int(getattr(msg, "total", 0))
            state = int(getattr(msg, "mission_state", 0))
            changed = seq != self._mission_seq or state != (self._mission_state or 0)
            self._mission_seq = seq
            self._mission_total = None if total in (0, 65535) else total
            self._mission_state = state or None
            if changed:
                self._emit(VehicleEventKind.MISSION_CURRENT, f"seq {seq} state {state}", value=seq)
                self._publish(force=True)
        elif mid == _MISSION_ITEM_REACHED:
            seq = int(msg.seq)
            if seq != self._mission_reached:  # PX4 repeats it 10 times
                self._mission_reached = seq
                self._emit(VehicleEventKind.MISSION_ITEM_REACHED, f"reached {seq}", value=seq)
                self._publish(force=True)
        elif mid == _STATUSTEXT:
            text = msg.text.rstrip("\t\x00 ") if isinstance(msg.text, str) else str(msg.text)
            self._statustexts.append((time.monotonic(), int(msg.severity), text))
            self._emit(VehicleEventKind.STATUSTEXT, text, severity=int(msg.severity))
        elif mid == _TIMESYNC:
            sent = self._timesync_sent.pop(int(msg.ts1), None)
            if msg.tc1 != 0 and sent is not None:
                self._rtt_ms = (time.monotonic() - sent) * 1000.0
            elif msg.tc1 == 0:
                # A vehicle asking us: answer, as a GCS does, so its timesync converges.
                self._send(self._mav.timesync_encode(time.monotonic_ns(), int(msg.ts1)))
        if mid in _MISSION_MSGS and self._mission_queue is not None:
            self._mission_queue.put_nowait(msg)
        if self._waiters:
            for ids, pred, fut in list(self._waiters):
                if mid in ids and not fut.done() and pred(msg):
                    fut.set_result(msg)

    def _on_heartbeat(self, msg: Any) -> None:
        self._last_hb_mono = self._clock.monotonic()
        self._last_seen = self._clock.now()
        self._system_status = int(msg.system_status)
        mode = (
            decode_px4_mode(int(msg.custom_mode))
            if msg.base_mode & _MODE_FLAG_CUSTOM
            else self._mode
        )
        armed = bool(msg.base_mode & _MODE_FLAG_ARMED)
        changed = False
        if mode != self._mode:
            old = self._mode
            self._mode = mode
            self._emit(VehicleEventKind.MODE, f"{old} -> {mode}", value=int(msg.custom_mode))
            changed = True
        if armed != self._armed:
            self._armed = armed
            self._emit(VehicleEventKind.ARMED if armed else VehicleEventKind.DISARMED, "")
            changed = True
        self._evaluate_health(self._last_hb_mono)
        self._publish(force=changed)

    # ------------------------------------------------------------------ state and events

    def state(self) -> VehicleState:
        """Latest normalised state snapshot."""
        available = self._link_state in (LinkState.CONNECTED, LinkState.DEGRADED)
        return VehicleState(
            vehicle_id=self._vehicle_id,
            time=self._clock.now(),
            available=available,
            last_seen=self._last_seen,
            link=self._link_state,
            position=self._position,
            alt_amsl_m=self._alt_amsl_m,
            alt_agl_m=self._alt_rel_m,
            heading_deg=self._heading_deg,
            ground_speed_mps=self._ground_speed_mps,
            climb_rate_mps=self._climb_mps,
            battery_pct=self._battery_pct,
            battery_voltage_v=self._battery_v,
            mode=self._mode,
            armed=self._armed,
            landed_state=self._landed,
            gps_fix_type=self._gps_fix,
            gps_satellites=self._gps_sats,
            packet_loss_pct=self._loss_pct,
            rtt_ms=self._rtt_ms,
            mission_current_seq=self._mission_seq,
            mission_total=self._mission_total,
            mission_state=self._mission_state,
            mission_reached_seq=self._mission_reached,
            home=self._home,
            home_alt_amsl_m=self._home_alt_amsl_m,
            system_status=self._system_status,
        )

    def health(self) -> LinkHealth:
        """Link quality now."""
        age = None
        if self._last_hb_mono is not None:
            age = self._clock.monotonic() - self._last_hb_mono
        return LinkHealth(
            state=self._link_state,
            last_heard=self._last_seen,
            heartbeat_age_s=age,
            packet_loss_pct=self._loss_pct,
            rtt_ms=self._rtt_ms,
            messages_received=self._messages_received,
            bad_frames=self._bad_frames,
        )

    def add_listener(
        self,
        on_state: Callable[[VehicleState], None],
        on_event: Callable[[VehicleEvent], None],
    ) -> Callable[[], None]:
        """Call back on every published state and event (fleet fan-in); returns the remover."""
        entry = (on_state, on_event)
        self._listeners.append(entry)

        def remove() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return remove

    def _publish(self, force: bool = False) -> None:
        if not self._mailboxes and not self._listeners:
            return
        now = time.monotonic()
        if not force and now - self._last_publish < 1.0 / self._cfg.state_rate_hz:
            return
        self._last_publish = now
        snapshot = self.state()
        for mb in self._mailboxes:
            mb.value = snapshot
            mb.event.set()
        for on_state, _ in self._listeners:
            on_state(snapshot)

    def _emit(
        self,
        kind: VehicleEventKind,
        detail: str,
        *,
        severity: int | None = None,
        value: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        if not self._event_queues and not self._listeners:
            return
        event = VehicleEvent(
            self._vehicle_id, self._clock.now(), kind, detail, severity, value, extra or {}
        )
        for _, on_event in self._listeners:
            on_event(event)
        for q in self._event_queues:
            if q.full():  # a stalled reader loses its oldest events, never blocks the link
                q.get_nowait()
            q.put_nowait(event)

    async def states(self) -> AsyncGenerator[VehicleState, None]:
        """Stream of state snapshots (latest-value: a slow reader skips, never lags)."""
        mb = _Mailbox()
        self._mailboxes.add(mb)
        try:
            mb.value = self.state()
            mb.event.set()
            while True:
                await mb.event.wait()
                mb.event.clear()
                value = mb.value
                if value is not None:
                    yield value
                if self._link_state == LinkState.CLOSED:
                    return
        finally:
            self._mailboxes.discard(mb)

    async def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Stream of this vehicle's events (bounded; a stalled reader drops the oldest)."""
        q: asyncio.Queue[VehicleEvent] = asyncio.Queue(maxsize=1000)
        self._event_queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._event_queues.discard(q)

    async def wait_connected(self, timeout_s: float) -> VehicleState:
        """Wait until the vehicle's heartbeat is heard; raises LinkTimeoutError."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError as exc:
            raise LinkTimeoutError(self._vehicle_id, "connect", timeout_s) from exc
        return self.state()

    # ------------------------------------------------------------------ waiting helpers

    def _require_airborne(self, operation: str) -> None:
        # In-flight commands to a drone that reports itself on the ground are refused unsent.
        if self._landed == LandedState.ON_GROUND and not self._armed:
            raise InvalidCommandError(f"{self._vehicle_id}: {operation} refused: vehicle is landed")

    def _require_link(self, operation: str) -> None:
        if self._link_state not in (LinkState.CONNECTED, LinkState.DEGRADED):
            raise LinkLostError(self._vehicle_id, operation)

    async def _wait_msg(
        self, ids: frozenset[int], pred: Callable[[Any], bool], timeout_s: float
    ) -> Any | None:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (ids, pred, fut)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            return None
        finally:
            self._waiters.remove(entry)

    def _texts_since(self, t0: float) -> str:
        return "; ".join(text for t, _sev, text in self._statustexts if t >= t0)

    # ------------------------------------------------------------------ commands

    def _send_command_long(
        self, command: int, params: tuple[float, ...], confirmation: int = 0
    ) -> None:
        self._send(
            self._mav.command_long_encode(
                self._target_sysid or 0, self._target_compid, command, confirmation, *params
            )
        )

    async def _command(
        self,
        name: str,
        command: int,
        params: tuple[float, ...],
        *,
        as_int: tuple[int, int, float] | None = None,
    ) -> CommandAck:
        """Send a command until acknowledged; `as_int` = (x, y, z) sends COMMAND_INT frame GLOBAL_INT."""
        self._require_link(name)
        cfg = self._cfg
        async with self._command_lock:
            t0 = time.monotonic()
            for attempt in range(cfg.command_retries + 1):
                self._require_link(name)
                sent_at = time.monotonic()
                if as_int is None:
                    self._send_command_long(command, params, confirmation=attempt)
                else:
                    x, y, z = as_int
                    self._send(
                        self._mav.command_int_encode(
                            self._target_sysid or 0,
                            self._target_compid,
                            _MAV_FRAME_GLOBAL_INT,
                            command,
                            0,
                            0,
                            params[0],
                            params[1],
                            params[2],
                            params[3],
                            x,
                            y,
                            z,
                        )
                    )
                timeout_s = cfg.command_timeout_s
                while True:
                    ack = await self._wait_msg(
                        frozenset({_COMMAND_ACK}), lambda m: int(m.command) == command, timeout_s
                    )
                    if ack is None or int(ack.result) != 5:  # 5 IN_PROGRESS keeps it open
                        break
                    timeout_s = cfg.command_in_progress_timeout_s
                if ack is None:
                    continue
                rtt_ms = (time.monotonic() - sent_at) * 1000.0
                if self._rtt_ms is None:
                    self._rtt_ms = rtt_ms
                result = int(ack.result)
                if result == 0:
                    self._emit(VehicleEventKind.COMMAND, f"{name} accepted", value=0)
                    return CommandAck(self._vehicle_id, name, 0, attempt + 1, rtt_ms)
                if not self._texts_since(t0):
                    # PX4 sends the reason as STATUSTEXT next to the ack; give it a moment.
                    await self._wait_msg(frozenset({_STATUSTEXT}), lambda m: True, 0.15)
                detail = self._texts_since(t0)
                rname = _MAV_RESULT_NAMES.get(result, str(result))
                self._emit(
                    VehicleEventKind.COMMAND, f"{name} refused: {rname} {detail}", value=result
                )
                raise CommandRejectedError(self._vehicle_id, name, result, rname, detail)
            raise LinkTimeoutError(
                self._vehicle_id, name, cfg.command_timeout_s * (cfg.command_retries + 1)
            )

    async def _set_mode(self, name: str, mode: FlightMode) -> CommandAck:
        main, sub = px4_mode_code(mode)
        base = _MODE_FLAG_CUSTOM | (_MODE_FLAG_ARMED if self._armed else 0)
        return await self._command(name, _CMD_DO_SET_MODE, (base, main, sub, 0, 0, 0, 0))

    async def arm(self) -> CommandAck:
        """Apply the safety configuration, then arm (COMPONENT_ARM_DISARM p1=1)."""
        await self.apply_safety_config()
        return await self._command("arm", _CMD_ARM_DISARM, (1, 0, 0, 0, 0, 0, 0))

    async def disarm(self) -> CommandAck:
        """Disarm (PX4 refuses in the air)."""
        return await self._command("disarm", _CMD_ARM_DISARM, (0, 0, 0, 0, 0, 0, 0))

    async def start_mission(self) -> CommandAck:
        """Switch to AUTO.MISSION, retrying while PX4 is still validating a fresh upload."""
        deadline = self._clock.monotonic() + self._cfg.mission_start_window_s
        while True:
            try:
                return await self._set_mode("start_mission", FlightMode.MISSION)
            except CommandRejectedError as exc:
                # PX4 denies the mission until the navigator has validated the new upload.
                if exc.result not in (1, 2) or self._clock.monotonic() >= deadline:
                    raise
            await self._clock.sleep(self._cfg.mission_start_retry_s)

    async def hold(self) -> CommandAck:
        """Pause where the vehicle is (AUTO.LOITER; PX4 does not implement DO_PAUSE_CONTINUE)."""
        return await self._set_mode("hold", FlightMode.HOLD)

    async def resume(self) -> CommandAck:
        """Continue the mission (AUTO.MISSION)."""
        self._require_airborne("resume")
        return await self._set_mode("resume", FlightMode.MISSION)

    async def return_to_launch(self) -> CommandAck:
        """Return to launch (DO_SET_MODE AUTO.RTL, as MAVSDK does on PX4)."""
        self._require_airborne("rtl")
        return await self._set_mode("rtl", FlightMode.RTL)

    async def land(self) -> CommandAck:
        """Land at the current position (NAV_LAND)."""
        nan = math.nan
        self._require_airborne("land")
        return await self._command("land", _CMD_NAV_LAND, (0, 0, 0, nan, nan, nan, nan))

    def _alt_amsl(self, alt: Altitude) -> float:
        if alt.datum == AltitudeDatum.AMSL:
            return alt.value_m
        if alt.datum in (AltitudeDatum.TAKEOFF, AltitudeDatum.AGL):
            # No terrain model here: AGL is taken relative to home, as PX4's relative_alt is.
            home_amsl = self._home_alt_amsl_m
            if home_amsl is None and self._alt_amsl_m is not None and self._alt_rel_m is not None:
                home_amsl = self._alt_amsl_m - self._alt_rel_m
            if home_amsl is None:
                raise InvalidCommandError(
                    f"{self._vehicle_id}: no home altitude known to convert {alt.datum} altitude"
                )
            return home_amsl + alt.value_m
        raise InvalidCommandError(f"{self._vehicle_id}: altitude datum {alt.datum} not supported")

    def _check_speed(self, speed_mps: float) -> None:
        if not math.isfinite(speed_mps) or not 0 < speed_mps <= self._cfg.speed_max_mps:
            raise InvalidCommandError(
                f"speed {speed_mps} m/s outside 0..{self._cfg.speed_max_mps} m/s"
            )

    async def goto(
        self, point: GeoPoint, alt: Altitude, speed_mps: float | None = None
    ) -> CommandAck:
        """Fly to a point and hold there (DO_REPOSITION as COMMAND_INT, altitude AMSL)."""
        self._require_airborne("goto")
        if speed_mps is not None:
            self._check_speed(speed_mps)
        z = self._alt_amsl(alt)
        lat, lon = point.to_dege7()
        # p2 bit 0 (CHANGE_MODE) is required by PX4; p4 yaw NaN keeps the heading logic of PX4.
        params = (speed_mps if speed_mps is not None else -1.0, 1.0, 0.0, math.nan)
        return await self._command("goto", _CMD_DO_REPOSITION, params, as_int=(lat, lon, z))

    async def orbit(
        self, center: GeoPoint, radius_m: float, speed_mps: float, alt: Altitude | None = None
    ) -> CommandAck:
        """Orbit a point (DO_ORBIT as COMMAND_INT); radius > 0 clockwise; alt None keeps altitude."""
        self._require_airborne("orbit")
        cfg = self._cfg
        if (
            not math.isfinite(radius_m)
            or not cfg.orbit_radius_min_m <= abs(radius_m) <= cfg.orbit_radius_max_m
        ):
            raise InvalidCommandError(
                f"orbit radius {radius_m} m outside {cfg.orbit_radius_min_m}..{cfg.orbit_radius_max_m} m"
            )
        self._check_speed(speed_mps)
        z = self._alt_amsl(alt) if alt is not None else math.nan
        lat, lon = center.to_dege7()
        # p3 0: yaw front to circle centre; p4 NaN as MAVSDK sends it (orbit until told otherwise).
        params = (radius_m, speed_mps, 0.0, math.nan)
        return await self._command("orbit", _CMD_DO_ORBIT, params, as_int=(lat, lon, z))

    async def change_speed(self, speed_mps: float) -> CommandAck:
        """Change ground speed (DO_CHANGE_SPEED p1=1 ground speed, p3=-1 throttle unchanged)."""
        self._require_airborne("change_speed")
        self._check_speed(speed_mps)
        return await self._command(
            "change_speed", _CMD_DO_CHANGE_SPEED, (1, speed_mps, -1, 0, 0, 0, 0)
        )

    # ------------------------------------------------------------------ parameters

    async def get_param(self, name: str) -> float | int:
        """Read one parameter (PX4 bytewise INT32 decoded to int)."""
        return await self._param_exchange(name, None)

    async def set_param(self, name: str, value: float | int) -> float | int:
        """Set one parameter; int values go as INT32 (bytewise), floats as REAL32. Returns the echo."""
        return await self._param_exchange(name, value)

    async def _param_exchange(self, name: str, value: float | int | None) -> float | int:
        op = f"param {name}"
        self._require_link(op)
        if len(name) > 16:
            raise InvalidCommandError(f"parameter name {name!r} longer than 16 characters")
        pid = name.encode("ascii")
        async with self._param_lock:
            for _ in range(self._cfg.param_retries + 1):
                self._require_link(op)
                if value is None:
                    self._send(
                        self._mav.param_request_read_encode(
                            self._target_sysid or 0, self._target_compid, pid, -1
                        )
                    )
                elif isinstance(value, int):
                    self._send(
                        self._mav.param_set_encode(
                            self._target_sysid or 0,
                            self._target_compid,
                            pid,
                            _f32_bits_from_int(value),
                            _PARAM_TYPE_INT32,
                        )
                    )
                else:
                    self._send(
                        self._mav.param_set_encode(
                            self._target_sysid or 0,
                            self._target_compid,
                            pid,
                            float(value),
                            _PARAM_TYPE_REAL32,
                        )
                    )
                msg = await self._wait_msg(
                    frozenset({_PARAM_VALUE}),
                    lambda m: str(m.param_id).rstrip("\x00") == name,
                    self._cfg.param_timeout_s,
                )
                if msg is None:
                    continue
                if int(msg.param_type) in (1, 2, 3, 4, 5, 6):  # integer types, bytewise on PX4
                    return _int_from_f32_bits(float(msg.param_value))
                return float(msg.param_value)
        raise LinkTimeoutError(
            self._vehicle_id, op, self._cfg.param_timeout_s * (self._cfg.param_retries + 1)
        )

    async def apply_safety_config(self) -> None:
        """Set the agency's failsafe parameters and read them back; SafetyConfigError if not confirmed."""
        for name, wanted in self._cfg.safety.params().items():
            try:
                await self.set_param(name, wanted)
                got = await self.get_param(name)
            except LinkTimeoutError as exc:
                raise SafetyConfigError(self._vehicle_id, name, wanted, None, "no answer") from exc
            ok = got == wanted if isinstance(wanted, int) else _f_eq(float(got), wanted)
            if not ok or isinstance(wanted, int) != isinstance(got, int):
                raise SafetyConfigError(self._vehicle_id, name, wanted, got)
        self._emit(VehicleEventKind.COMMAND, "safety configuration confirmed")

    # ------------------------------------------------------------------ mission transfer

    async def upload_fence(self, items: Sequence[MissionItem]) -> None:
        """Upload fence items, then download and compare them."""
        await self._upload_verified(items, MissionType.FENCE)

    async def upload_mission(self, items: Sequence[MissionItem]) -> None:
        """Upload mission items, then download and compare them."""
        await self._upload_verified(items, MissionType.MISSION)

    async def upload_rally(self, items: Sequence[MissionItem]) -> None:
        """Upload rally points, then download and compare them."""
        await self._upload_verified(items, MissionType.RALLY)

    async def _upload_verified(self, items: Sequence[MissionItem], mtype: MissionType) -> None:
        op = f"upload {mtype.name.lower()}"
        for idx, item in enumerate(items):
            if item.mission_type != mtype:
                raise InvalidCommandError(
                    f"{op}: item {idx} is of type {item.mission_type.name}, not {mtype.name}"
                )
        await self._upload(items, mtype)
        if not self._cfg.verify_uploads:
            return
        got = await self.download_mission(mtype)
        if len(got) != len(items):
            raise MissionTransferError(
                self._vehicle_id,
                op,
                "verify",
                detail=f"vehicle has {len(got)} items, sent {len(items)}",
            )
        for idx, (sent, back) in enumerate(zip(items, got, strict=True)):
            if not stored_like(sent, back):
                raise MissionTransferError(
                    self._vehicle_id,
                    op,
                    "verify",
                    detail=f"item {idx} differs: sent {sent}, vehicle has {back}",
                )

    @contextlib.contextmanager
    def _mission_session(self) -> Any:
        q: asyncio.Queue[Any] = asyncio.Queue()
        self._mission_queue = q
        try:
            yield q
        finally:
            self._mission_queue = None

    async def _next_mission_msg(
        self, q: asyncio.Queue[Any], mtype: MissionType, timeout_s: float
    ) -> Any | None:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    msg = await q.get()
                    if int(getattr(msg, "mission_type", 0)) == int(mtype):
                        return msg
        except TimeoutError:
            return None

    def _send_mission_ack(self, result: int, mtype: MissionType) -> None:
        self._send(
            self._mav.mission_ack_encode(
                self._target_sysid or 0, self._target_compid, result, int(mtype)
            )
        )

    async def _upload(self, items: Sequence[MissionItem], mtype: MissionType) -> None:
        op = f"upload {mtype.name.lower()}"
        self._require_link(op)
        cfg = self._cfg
        tsys, tcomp = self._target_sysid or 0, self._target_compid
        async with self._mission_lock:
            with self._mission_session() as q:
                t0 = time.monotonic()
                self._send(self._mav.mission_count_encode(tsys, tcomp, len(items), int(mtype)))
                requested_any = False
                silent = 0
                last_seq = -1
                while True:
                    msg = await self._next_mission_msg(q, mtype, cfg.mission_timeout_s)
                    if msg is None:
                        silent += 1
                        if silent > cfg.mission_retries:
                            raise MissionTransferError(
                                self._vehicle_id,
                                op,
                                "timeout",
                                detail=f"no answer after item {last_seq}"
                                if requested_any
                                else "no request",
                            )
                        self._require_link(op)
                        if not requested_any:
                            self._send(
                                self._mav.mission_count_encode(tsys, tcomp, len(items), int(mtype))
                            )
                        # else: PX4 re-requests the item itself on its 0.5 s retry timer
                        continue
                    silent = 0
                    mid = msg.get_msgId()
                    if mid == _MISSION_REQUEST:
                        # PX4 starts each link in non-INT mode; like MAVSDK, answer UNSUPPORTED so it
                        # switches to MISSION_REQUEST_INT and asks again.
                        requested_any = True
                        self._send_mission_ack(_MISSION_ACK_UNSUPPORTED, mtype)
                    elif mid == _MISSION_REQUEST_INT:
                        requested_any = True
                        seq = int(msg.seq)
                        if not 0 <= seq < len(items):
                            continue
                        last_seq = max(last_seq, seq)
                        self._send_item(items[seq], seq, mtype)
                    elif mid == _MISSION_ACK:
                        result = int(msg.type)
                        if result == 0 and (last_seq == len(items) - 1):
                            logger.debug(
                                "link %s: %s of %d items in %.1f ms",
                                self._vehicle_id,
                                op,
                                len(items),
                                (time.monotonic() - t0) * 1000,
                            )
                            return
                        rname = _MISSION_RESULT_NAMES.get(result, str(result))
                        if result == 0:
                            rname = "ACCEPTED before all items were sent"
                        raise MissionTransferError(
                            self._vehicle_id,
                            op,
                            rname,
                            result=result,
                            detail=self._texts_since(t0),
                        )

    def _send_item(self, item: MissionItem, seq: int, mtype: MissionType) -> None:
        self._send(
            self._mav.mission_item_int_encode(
                self._target_sysid or 0,
                self._target_compid,
                seq,
                int(item.frame),
                int(item.command),
                1 if (seq == 0 and mtype == MissionType.MISSION) else 0,
                1 if item.autocontinue else 0,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                item.x,
                item.y,
                item.z,
                int(mtype),
            )
        )

    async def download_mission(
        self, mission_type: MissionType = MissionType.MISSION
    ) -> list[MissionItem]:
        """Download the vehicle's mission, fence or rally items (used to adopt a flight)."""
        mtype = mission_type
        op = f"download {mtype.name.lower()}"
        self._require_link(op)
        cfg = self._cfg
        tsys, tcomp = self._target_sysid or 0, self._target_compid
        async with self._mission_lock:
            with self._mission_session() as q:
                count: int | None = None
                for _ in range(cfg.mission_retries + 1):
                    self._require_link(op)
                    self._send(self._mav.mission_request_list_encode(tsys, tcomp, int(mtype)))
                    msg = await self._next_mission_msg(q, mtype, cfg.mission_timeout_s)
                    if msg is None:
                        continue
                    if msg.get_msgId() == _MISSION_COUNT:
                        count = int(msg.count)
                        break
                    if msg.get_msgId() == _MISSION_ACK and int(msg.type) != 0:
                        raise MissionTransferError(
                            self._vehicle_id,
                            op,
                            _MISSION_RESULT_NAMES.get(int(msg.type), str(msg.type)),
                            result=int(msg.type),
                        )
                if count is None:
                    raise MissionTransferError(
                        self._vehicle_id, op, "timeout", detail="no MISSION_COUNT"
                    )
                items: list[MissionItem] = []
                for seq in range(count):
                    got = None
                    for _ in range(cfg.mission_retries + 1):
                        self._require_link(op)
                        self._send(
                            self._mav.mission_request_int_encode(tsys, tcomp, seq, int(mtype))
                        )
                        deadline = time.monotonic() + cfg.mission_timeout_s
                        while got is None and (left := deadline - time.monotonic()) > 0:
                            msg = await self._next_mission_msg(q, mtype, left)
                            if (
                                msg is not None
                                and msg.get_msgId() == _MISSION_ITEM_INT
                                and int(msg.seq) == seq
                            ):
                                got = msg
                            elif (
                                msg is not None
                                and msg.get_msgId() == _MISSION_ACK
                                and int(msg.type) != 0
                            ):
                                raise MissionTransferError(
                                    self._vehicle_id,
                                    op,
                                    _MISSION_RESULT_NAMES.get(int(msg.type), str(msg.type)),
                                    result=int(msg.type),
                                )
                        if got is not None:
                            break
                    if got is None:
                        raise MissionTransferError(
                            self._vehicle_id,
                            op,
                            "timeout",
                            detail=f"item {seq} of {count} not received",
                        )
                    items.append(item_from_mavlink(got))
                self._send_mission_ack(0, mtype)
                return items

    async def set_mission_current(self, seq: int) -> None:
        """Continue the mission at item `seq` (MISSION_SET_CURRENT; confirmed by MISSION_CURRENT).

        Used to release a drone from an unlimited loiter over the scene onto the planned return.
        """
        op = f"set mission current {seq}"
        self._require_link(op)
        if seq < 0 or (self._mission_total is not None and seq >= self._mission_total):
            raise InvalidCommandError(f"{self._vehicle_id}: {op}: outside the mission")
        for _ in range(self._cfg.command_retries + 1):
            self._require_link(op)
            self._send(
                self._mav.mission_set_current_encode(
                    self._target_sysid or 0, self._target_compid, seq
                )
            )
            msg = await self._wait_msg(
                frozenset({_MISSION_CURRENT}),
                lambda m: int(m.seq) == seq,
                self._cfg.command_timeout_s,
            )
            if msg is not None:
                self._emit(VehicleEventKind.COMMAND, f"{op} confirmed", value=seq)
                return
        raise LinkTimeoutError(
            self._vehicle_id, op, self._cfg.command_timeout_s * (self._cfg.command_retries + 1)
        )

    async def clear_mission(self, mission_type: MissionType = MissionType.MISSION) -> None:
        """Clear the vehicle's mission, fence or rally items (MISSION_CLEAR_ALL)."""
        mtype = mission_type
        op = f"clear {mtype.name.lower()}"
        self._require_link(op)
        async with self._mission_lock:
            with self._mission_session() as q:
                for _ in range(self._cfg.mission_retries + 1):
                    self._require_link(op)
                    self._send(
                        self._mav.mission_clear_all_encode(
                            self._target_sysid or 0, self._target_compid, int(mtype)
                        )
                    )
                    msg = await self._next_mission_msg(q, mtype, self._cfg.mission_timeout_s)
                    if msg is None or msg.get_msgId() != _MISSION_ACK:
                        continue
                    if int(msg.type) == 0:
                        return
                    raise MissionTransferError(
                        self._vehicle_id,
                        op,
                        _MISSION_RESULT_NAMES.get(int(msg.type), str(msg.type)),
                        result=int(msg.type),
                    )
        raise MissionTransferError(self._vehicle_id, op, "timeout")
