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

As MAVSDK has a plugin per capability, the link is cut into parts it owns: the connection
(flight/link_transport.py: socket, framing, packet loss, round trips), the vehicle's telemetry
(flight/vehicle_telemetry.py), commands (flight/link_commands.py), parameters
(flight/link_params.py) and mission transfer (flight/mission_transfer.py). This module keeps the
link's life: connect, heartbeat, watchdog and reconnect, link state, and the state/event streams.

Our GCS identity defaults to sysid 245 / compid 190 (MAV_COMP_ID_MISSIONPLANNER), as MAVSDK uses: QGC
uses 255, so a pilot's QGC on the same vehicle never shares our system id and sequence counter, and PX4
accepts mission transfers addressed from/to compid 190.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import Any, Self

from flight import mavlink_wire as wire
from flight.clock import Clock, SystemClock
from flight.errors import FlightError, LinkLostError, LinkTimeoutError
from flight.fanout import VehicleEventSource, VehicleFanOut
from flight.link_commands import VehicleCommands
from flight.link_config import LinkConfig
from flight.link_context import Fence, LinkContext, no_fence
from flight.link_params import VehicleParams
from flight.link_transport import MavlinkTransport, parse_connection_url
from flight.mission_items import MissionItem, MissionType
from flight.mission_transfer import MissionTransfer
from flight.models import (
    CommandAck,
    LinkHealth,
    LinkState,
    VehicleEvent,
    VehicleEventKind,
    VehicleId,
    VehicleState,
)
from flight.signing import FrameRejection, LinkSigning, SigningSetup
from flight.vehicle_telemetry import VehicleTelemetry
from geofence import Altitude, GeoPoint

__all__ = ["LinkConfig", "MavlinkVehicleLink", "parse_connection_url"]

logger = logging.getLogger(__name__)

_WATCHDOG_TICK_S = 0.2
#: At most this many ticks of silence are counted per tick: time beyond it the process was stalled.
_STALL_COUNTED_TICKS = 2.0


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
        fence: Fence = no_fence,
    ) -> None:
        self._vehicle_id = vehicle_id
        self.url = url
        self._cfg = config or LinkConfig()
        self._clock: Clock = clock or SystemClock()
        self._fence = fence
        self._key_confirmed = asyncio.Event()
        self._signing = (
            None
            if self._cfg.signing is None
            else LinkSigning(self._cfg.signing, on_confirmed=self._key_confirmed.set)
        )
        self._rejected_at: deque[float] = deque()
        self._rejected_alerted_at = -math.inf
        self._transport = MavlinkTransport(
            vehicle_id,
            parse_connection_url(url, vehicle_id),
            self._cfg,
            self._on_message,
            target_sysid=sysid,
            signing=self._signing,
            on_rejected=self._on_rejected,
        )
        self._fanout = VehicleFanOut(events_maxsize=1000)
        self._emit = VehicleEventSource(vehicle_id, self._clock, self._fanout)
        self._telemetry = VehicleTelemetry(self._emit, self._publish)
        self._closing = False
        self._run_task: asyncio.Task[None] | None = None
        self._link_state = LinkState.CONNECTING
        self._connected = asyncio.Event()
        self._last_hb_mono: float | None = None
        #: Clock seconds without a heartbeat while this process was running (see _watchdog_loop).
        self._silent_s = 0.0
        self._silent_wall_s = 0.0
        self._last_seen: datetime | None = None
        self._last_publish = -math.inf
        self._greeted: tuple[str, int] | None = None
        self._prepare_task: asyncio.Task[None] | None = None
        ctx = LinkContext(
            vehicle_id,
            self._cfg,
            self._clock,
            self._transport,
            self._telemetry,
            self._emit,
            self._require_link,
            fence,
        )
        self._commands = VehicleCommands(ctx)
        self._params = VehicleParams(ctx)
        self._missions = MissionTransfer(ctx)

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
        return self._transport.target_sysid

    async def __aenter__(self) -> Self:
        # Standalone use (tests, tools): the link owns its run() task and awaits it on exit, so a
        # crash of run() is raised on exit, not into the block. In the service, FleetLink supervises
        # run() in its task group instead.
        self._run_task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task = self._run_task
        self.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        """Stop the link; run() returns and streams end."""
        self._closing = True
        if self._prepare_task is not None:
            self._prepare_task.cancel()
        if self._run_task is not None:
            self._run_task.cancel()
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
                    closed = await self._transport.open()
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
                    self._transport.detach()
                if not self._closing:  # a TCP peer went away: reconnect
                    self._set_link_state(LinkState.LOST, "connection closed by peer")
                    await self._clock.sleep(backoff_s)
        finally:
            self._set_link_state(LinkState.CLOSED, "link closed")
            self._fanout.wake_state_readers()

    def local_port(self) -> int | None:
        """Bound local UDP/TCP port (useful with port 0)."""
        return self._transport.local_port()

    def _send_heartbeat(self) -> None:
        t = self._transport
        t.send(
            t.mav.heartbeat_encode(
                wire.MAV_TYPE_GCS, wire.MAV_AUTOPILOT_INVALID, 0, 0, wire.MAV_STATE_ACTIVE
            )
        )

    def _greet(self) -> None:
        # A udpin link learns where the vehicle is from its first frame, so the loop's heartbeats
        # before that went nowhere: PX4 refuses to arm (NAV_DLL_ACT > 0) until it has heard a GCS,
        # so the first heartbeat goes out the moment the vehicle is heard, before any command.
        address = self._transport.bound_address
        if address is not None and address != self._greeted:
            self._greeted = address
            self._send_heartbeat()

    async def _heartbeat_loop(self) -> None:
        # PX4 infers GCS presence (and data-link loss) from these; period is vehicle time.
        t = self._transport
        while True:
            self._send_setup_signing()
            self._send_heartbeat()
            if self._link_state in (LinkState.CONNECTED, LinkState.DEGRADED):
                t.send_timesync()
                if self._telemetry.home is None:
                    self._commands.request_message(wire.HOME_POSITION)
            await self._clock.sleep(self._cfg.heartbeat_period_s)

    async def _watchdog_loop(self) -> None:
        tick_s = _WATCHDOG_TICK_S
        window_start = last_tick = self._clock.monotonic()
        last_tick_wall = time.monotonic()
        while True:
            await self._clock.sleep(tick_s)
            now, now_wall = self._clock.monotonic(), time.monotonic()
            if now - window_start >= 2.0:
                self._transport.roll_loss_window()
                window_start = now
            # Silence counts only while this process runs: a tick far later than asked means the
            # process stalled (CPU starved, paused), and the vehicle's frames of that time wait
            # unread in the socket. A stall of 1 s at x5 is 5 s of vehicle time, not a lost link.
            elapsed = now - last_tick
            counted = min(elapsed, _STALL_COUNTED_TICKS * tick_s)
            self._silent_s += counted
            # The same share of the wall time, for the optional wall-time floor of a loss.
            share = counted / elapsed if elapsed > 0 else 1.0
            self._silent_wall_s += (now_wall - last_tick_wall) * share
            last_tick, last_tick_wall = now, now_wall
            self._evaluate_health()

    def _evaluate_health(self) -> None:
        if self._last_hb_mono is None:
            return
        silent_s = self._silent_s
        loss_pct = self._transport.loss_pct
        # With time sped up, a vehicle process stalled for a moment is seconds of vehicle time:
        # `lost_after_wall_s` asks for that much wall time of silence as well.
        if silent_s > self._cfg.lost_after_s and self._silent_wall_s >= self._cfg.lost_after_wall_s:
            self._set_link_state(LinkState.LOST, f"no heartbeat for {silent_s:.1f} s")
        elif silent_s > self._cfg.degraded_after_s or loss_pct > self._cfg.degraded_loss_pct:
            self._set_link_state(
                LinkState.DEGRADED, f"heartbeat age {silent_s:.1f} s, loss {loss_pct:.0f} %"
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
        if new == LinkState.LOST:
            # The bound address has been silent beyond the link-loss timeout: a vehicle that
            # comes back from another address (a restart, a new radio) may be heard again.
            self._transport.allow_rebind()
            # It may have restarted meanwhile: what it held is verified again before a launch.
            self._missions.forget_plans()
            self._params.forget_safety_config()
        elif old in (LinkState.CONNECTING, LinkState.LOST) and self._connected.is_set():
            self._prepare()  # heard again (connected or degraded)
        log = logger.warning if new == LinkState.LOST else logger.info
        log("link %s: %s -> %s (%s)", self._vehicle_id, old, new, why)
        self._emit(VehicleEventKind.LINK, f"{old} -> {new}: {why}", extra={"state": str(new)})
        self._publish(force=True)

    def _on_message(self, msg: Any, sysid: int, compid: int) -> None:
        self._greet()
        mid = msg.get_msgId()
        if mid != wire.HEARTBEAT:
            if mid == wire.PARAM_VALUE:
                self._params.on_param_value(msg)
            self._telemetry.handle(msg)
            return
        if msg.autopilot == wire.MAV_AUTOPILOT_INVALID or msg.type == wire.MAV_TYPE_GCS:
            return  # a GCS or companion, not the autopilot
        t = self._transport
        if t.target_sysid is None:
            t.target_sysid = sysid
        t.target_compid = compid
        self._last_hb_mono = self._clock.monotonic()
        self._silent_s = self._silent_wall_s = 0.0
        self._last_seen = self._clock.now()
        changed = self._telemetry.on_heartbeat(msg)
        self._evaluate_health()
        self._publish(force=changed)

    def _prepare(self) -> None:
        # The failsafe parameters go to a docked vehicle when it connects, not at launch: a launch
        # then only checks they are still confirmed (a failure here is retried by the launch).
        if not self._cfg.prepare_at_connect or self._closing:
            return
        if self._prepare_task is not None and not self._prepare_task.done():
            return
        self._prepare_task = asyncio.get_running_loop().create_task(self._apply_at_connect())

    async def _apply_at_connect(self) -> None:
        try:
            await self._params.apply_safety_config()
        except FlightError as exc:
            logger.info(
                "link %s: failsafe parameters not confirmed at connect (%s); the launch retries",
                self._vehicle_id,
                exc,
                extra={"vehicle_id": self._vehicle_id},
            )

    def _on_rejected(self, reason: FrameRejection) -> None:
        now = self._clock.monotonic()
        window_s = self._cfg.rejected_alert_window_s
        times = self._rejected_at
        times.append(now)
        while times and now - times[0] > window_s:
            times.popleft()
        if (
            len(times) < self._cfg.rejected_alert_count
            or now - self._rejected_alerted_at < window_s
        ):
            return
        self._rejected_alerted_at = now
        counts = ", ".join(f"{r} {n}" for r, n in sorted(self._transport.rejected.items()))
        detail = (
            f"MAVLink frames rejected: {len(times)} in {window_s:.0f} s "
            f"(totals: {counts}); someone else may be sending as this vehicle"
        )
        logger.warning(
            "link %s: %s", self._vehicle_id, detail, extra={"vehicle_id": self._vehicle_id}
        )
        # Severity WARNING (4): the service raises an alert for it as for a vehicle's warning.
        self._emit(
            VehicleEventKind.STATUSTEXT,
            detail,
            severity=4,
            extra={"source": "link", "reason": str(reason)},
        )

    # ------------------------------------------------------------------ signing

    def frames_rejected(self) -> dict[str, int]:
        """Frames of this vehicle's system id dropped so far, by reason (FrameRejection values)."""
        return {str(reason): n for reason, n in self._transport.rejected.items()}

    @property
    def signing(self) -> LinkSigning | None:
        """The link's signing state (None: it neither signs nor checks signatures)."""
        return self._signing

    @property
    def bound_address(self) -> tuple[str, int] | None:
        """The UDP address the vehicle was bound to (udpin links; None before its first frame)."""
        return self._transport.bound_address

    async def provision_signing_key(self, key: bytes, timeout_s: float | None = None) -> None:
        """Send `key` with SETUP_SIGNING (signed under the current key, if any) until the vehicle signs with it.

        Until then frames signed with either key are accepted and ours stay under the old one;
        LinkTimeoutError if the vehicle has not signed with the new key within `timeout_s`.
        """
        await self._fence("setup_signing")
        if self._signing is None:
            self._signing = LinkSigning(
                SigningSetup(required=False), on_confirmed=self._key_confirmed.set
            )
            self._transport.signing = self._signing
        if self._signing.key == key and self._signing.pending_key is None:
            return  # the vehicle signs with it already
        self._key_confirmed.clear()
        self._signing.propose(key)
        self._send_setup_signing()
        limit_s = timeout_s if timeout_s is not None else self._cfg.signing_confirm_timeout_s
        try:
            async with asyncio.timeout(limit_s):
                await self._key_confirmed.wait()
        except TimeoutError as exc:
            raise LinkTimeoutError(self._vehicle_id, "setup_signing", limit_s) from exc

    def _send_setup_signing(self) -> None:
        signing = self._signing
        if signing is None or signing.pending_key is None:
            return
        t = self._transport
        sysid, compid = t.target
        t.send(
            t.mav.setup_signing_encode(sysid, compid, signing.pending_key, signing.next_timestamp())
        )

    def _require_link(self, operation: str) -> None:
        if self._link_state not in (LinkState.CONNECTED, LinkState.DEGRADED):
            raise LinkLostError(self._vehicle_id, operation)

    # ------------------------------------------------------------------ state and events

    def state(self) -> VehicleState:
        """Latest normalised state snapshot."""
        return self._telemetry.snapshot(
            self._vehicle_id,
            self._clock.now(),
            self._link_state,
            last_seen=self._last_seen,
            packet_loss_pct=self._transport.loss_pct,
            rtt_ms=self._transport.rtt_ms,
        )

    def health(self) -> LinkHealth:
        """Link quality now."""
        age = None
        if self._last_hb_mono is not None:
            age = self._clock.monotonic() - self._last_hb_mono
        t = self._transport
        return LinkHealth(
            state=self._link_state,
            last_heard=self._last_seen,
            heartbeat_age_s=age,
            packet_loss_pct=t.loss_pct,
            rtt_ms=t.rtt_ms,
            messages_received=t.messages_received,
            bad_frames=t.bad_frames,
        )

    def add_listener(
        self,
        on_state: Callable[[VehicleState], None],
        on_event: Callable[[VehicleEvent], None],
    ) -> Callable[[], None]:
        """Call back on every published state and event (fleet fan-in); returns the remover."""
        return self._fanout.add_listener(on_state, on_event)

    def _publish(self, *, force: bool = False) -> None:
        if not self._fanout.wants_states():
            return
        now = time.monotonic()
        if not force and now - self._last_publish < 1.0 / self._cfg.state_rate_hz:
            return
        self._last_publish = now
        self._fanout.publish_state(self.state())

    def states(self) -> AsyncGenerator[VehicleState, None]:
        """Stream of state snapshots (latest-value: a slow reader skips, never lags)."""
        return self._fanout.states(
            lambda: (self.state(),), lambda: self._link_state == LinkState.CLOSED
        )

    def events(self) -> AsyncGenerator[VehicleEvent, None]:
        """Stream of this vehicle's events (bounded; a stalled reader drops the oldest)."""
        return self._fanout.events()

    async def wait_connected(self, timeout_s: float) -> VehicleState:
        """Wait until the vehicle's heartbeat is heard; raises LinkTimeoutError."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._connected.wait()
        except TimeoutError as exc:
            raise LinkTimeoutError(self._vehicle_id, "connect", timeout_s) from exc
        return self.state()

    # ------------------------------------------------------------------ commands

    async def arm(self) -> CommandAck:
        """Arm (COMPONENT_ARM_DISARM p1=1) once the safety configuration is confirmed on this connection."""
        await self._params.apply_safety_config()
        return await self._commands.arm()

    async def disarm(self) -> CommandAck:
        """Disarm (PX4 refuses in the air)."""
        return await self._commands.disarm()

    async def start_mission(self) -> CommandAck:
        """Switch to AUTO.MISSION, retrying while PX4 is still validating a fresh upload."""
        return await self._commands.start_mission()

    async def hold(self) -> CommandAck:
        """Pause where the vehicle is (AUTO.LOITER; PX4 does not implement DO_PAUSE_CONTINUE)."""
        return await self._commands.hold()

    async def resume(self) -> CommandAck:
        """Continue the mission (AUTO.MISSION)."""
        return await self._commands.resume()

    async def return_to_launch(self) -> CommandAck:
        """Return to launch (DO_SET_MODE AUTO.RTL, as MAVSDK does on PX4)."""
        return await self._commands.return_to_launch()

    async def land(self) -> CommandAck:
        """Land at the current position (NAV_LAND)."""
        return await self._commands.land()

    async def goto(
        self, point: GeoPoint, alt: Altitude, speed_mps: float | None = None
    ) -> CommandAck:
        """Fly to a point and hold there (DO_REPOSITION as COMMAND_INT, altitude AMSL)."""
        return await self._commands.goto(point, alt, speed_mps)

    async def orbit(
        self, center: GeoPoint, radius_m: float, speed_mps: float, alt: Altitude | None = None
    ) -> CommandAck:
        """Orbit a point (DO_ORBIT as COMMAND_INT); radius > 0 clockwise; alt None keeps altitude."""
        return await self._commands.orbit(center, radius_m, speed_mps, alt)

    async def change_speed(self, speed_mps: float) -> CommandAck:
        """Change ground speed (DO_CHANGE_SPEED p1=1 ground speed, p3=-1 throttle unchanged)."""
        return await self._commands.change_speed(speed_mps)

    async def aim_camera(self, pitch_deg: float, yaw_deg: float = 0.0) -> CommandAck:
        """Point the camera gimbal: pitch (0 horizon, -90 down) and yaw relative to the heading."""
        self._require_link("aim_camera")
        return await self._commands.aim_camera(pitch_deg, yaw_deg)

    # ------------------------------------------------------------------ parameters

    async def get_param(self, name: str) -> float | int:
        """Read one parameter (PX4 bytewise INT32 decoded to int)."""
        return await self._params.get_param(name)

    async def set_param(self, name: str, value: float | int) -> float | int:
        """Set one parameter; int values go as INT32 (bytewise), floats as REAL32. Returns the echo."""
        return await self._params.set_param(name, value)

    async def apply_safety_config(self) -> None:
        """Set the agency's failsafe parameters and read them back; SafetyConfigError if not confirmed."""
        await self._params.apply_safety_config(force=True)

    # ------------------------------------------------------------------ mission transfer

    async def upload_fence(self, items: Sequence[MissionItem]) -> None:
        """Upload fence items, then download and compare them."""
        await self._missions.upload(items, MissionType.FENCE)

    async def upload_mission(self, items: Sequence[MissionItem]) -> None:
        """Upload mission items, then download and compare them."""
        await self._missions.upload(items, MissionType.MISSION)

    async def upload_rally(self, items: Sequence[MissionItem]) -> None:
        """Upload rally points, then download and compare them."""
        await self._missions.upload(items, MissionType.RALLY)

    async def download_mission(
        self, mission_type: MissionType = MissionType.MISSION
    ) -> list[MissionItem]:
        """Download the vehicle's mission, fence or rally items (used to adopt a flight)."""
        return await self._missions.download(mission_type)

    async def set_mission_current(self, seq: int) -> None:
        """Continue the mission at item `seq` (MISSION_SET_CURRENT; confirmed by MISSION_CURRENT)."""
        await self._missions.set_current(seq)

    async def clear_mission(self, mission_type: MissionType = MissionType.MISSION) -> None:
        """Clear the vehicle's mission, fence or rally items (MISSION_CLEAR_ALL)."""
        await self._missions.clear(mission_type)
