"""Vehicle commands: COMMAND_LONG/INT sent until acknowledged, PX4 modes, go-to, orbit, land."""

from __future__ import annotations

import asyncio
import math
import time

from flight import mavlink_wire as wire
from flight.errors import CommandRejectedError, InvalidCommandError, LinkTimeoutError
from flight.link_context import LinkContext
from flight.models import CommandAck, FlightMode, LandedState, VehicleEventKind, px4_mode_code
from geofence import Altitude, AltitudeDatum, GeoPoint


class VehicleCommands:
    """The command capability of one vehicle link (one command in flight at a time)."""

    def __init__(self, ctx: LinkContext) -> None:
        self._ctx = ctx
        self._lock = asyncio.Lock()

    def send_command_long(
        self, command: int, params: tuple[float, ...], confirmation: int = 0
    ) -> None:
        """Send one COMMAND_LONG without waiting for its ack."""
        t = self._ctx.transport
        t.send(t.mav.command_long_encode(*t.target, command, confirmation, *params))

    def request_message(self, message_id: int) -> None:
        """Ask the vehicle to send one message (REQUEST_MESSAGE, unacknowledged here)."""
        self.send_command_long(wire.CMD_REQUEST_MESSAGE, (message_id, 0, 0, 0, 0, 0, 0))

    def _send_command_int(
        self, command: int, params: tuple[float, ...], as_int: tuple[int, int, float]
    ) -> None:
        t = self._ctx.transport
        x, y, z = as_int
        t.send(
            t.mav.command_int_encode(
                *t.target,
                wire.MAV_FRAME_GLOBAL_INT,
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

    async def command(
        self,
        name: str,
        command: int,
        params: tuple[float, ...],
        *,
        as_int: tuple[int, int, float] | None = None,
    ) -> CommandAck:
        """Send a command until acknowledged; `as_int` = (x, y, z) sends COMMAND_INT frame GLOBAL_INT."""
        ctx = self._ctx
        ctx.require_link(name)
        cfg = ctx.config
        async with self._lock:
            t0 = time.monotonic()
            for attempt in range(cfg.command_retries + 1):
                ctx.require_link(name)
                await ctx.fence(name)
                sent_at = time.monotonic()
                if as_int is None:
                    self.send_command_long(command, params, confirmation=attempt)
                else:
                    self._send_command_int(command, params, as_int)
                timeout_s = cfg.command_timeout_s
                while True:
                    ack = await ctx.transport.wait_msg(
                        frozenset({wire.COMMAND_ACK}),
                        lambda m: int(m.command) == command,
                        timeout_s,
                    )
                    if ack is None or int(ack.result) != wire.MAV_RESULT_IN_PROGRESS:
                        break
                    timeout_s = cfg.command_in_progress_timeout_s  # IN_PROGRESS keeps it open
                if ack is None:
                    continue
                return await self._acknowledged(name, int(ack.result), attempt, sent_at, t0)
            raise LinkTimeoutError(
                ctx.vehicle_id, name, cfg.command_timeout_s * (cfg.command_retries + 1)
            )

    async def _acknowledged(
        self, name: str, result: int, attempt: int, sent_at: float, t0: float
    ) -> CommandAck:
        ctx = self._ctx
        rtt_ms = (time.monotonic() - sent_at) * 1000.0
        if ctx.transport.rtt_ms is None:
            ctx.transport.rtt_ms = rtt_ms
        if result == wire.MAV_RESULT_ACCEPTED:
            ctx.emit(VehicleEventKind.COMMAND, f"{name} accepted", value=0)
            return CommandAck(ctx.vehicle_id, name, 0, attempt + 1, rtt_ms)
        if not ctx.telemetry.texts_since(t0):
            # PX4 sends the reason as STATUSTEXT next to the ack; give it a moment.
            await ctx.transport.wait_msg(frozenset({wire.STATUSTEXT}), lambda m: True, 0.15)
        detail = ctx.telemetry.texts_since(t0)
        rname = wire.MAV_RESULT_NAMES.get(result, str(result))
        ctx.emit(VehicleEventKind.COMMAND, f"{name} refused: {rname} {detail}", value=result)
        raise CommandRejectedError(ctx.vehicle_id, name, result, rname, detail)

    def _require_airborne(self, operation: str) -> None:
        # In-flight commands to a drone that reports itself on the ground are refused unsent.
        tel = self._ctx.telemetry
        if tel.landed == LandedState.ON_GROUND and not tel.armed:
            raise InvalidCommandError(
                f"{self._ctx.vehicle_id}: {operation} refused: vehicle is landed"
            )

    async def _set_mode(self, name: str, mode: FlightMode) -> CommandAck:
        main, sub = px4_mode_code(mode)
        armed = self._ctx.telemetry.armed
        base = wire.MODE_FLAG_CUSTOM | (wire.MODE_FLAG_ARMED if armed else 0)
        return await self.command(name, wire.CMD_DO_SET_MODE, (base, main, sub, 0, 0, 0, 0))

    async def arm(self) -> CommandAck:
        """Arm (COMPONENT_ARM_DISARM p1=1), retrying a TEMPORARILY_REJECTED pre-arm check for a bounded window.

        PX4 answers TEMPORARILY_REJECTED for pre-arm checks that clear by themselves (it has not
        yet counted our GCS heartbeat, its estimator is settling); DENIED and the rest are final.
        The safety configuration is the caller's to apply.
        """
        clock, cfg = self._ctx.clock, self._ctx.config
        deadline = clock.monotonic() + cfg.arm_retry_window_s
        while True:
            try:
                return await self.command("arm", wire.CMD_ARM_DISARM, (1, 0, 0, 0, 0, 0, 0))
            except CommandRejectedError as exc:
                if exc.result != wire.MAV_RESULT_TEMPORARILY_REJECTED:
                    raise
                if clock.monotonic() >= deadline:
                    raise
            await clock.sleep(cfg.arm_retry_s)

    async def disarm(self) -> CommandAck:
        """Disarm (PX4 refuses in the air)."""
        return await self.command("disarm", wire.CMD_ARM_DISARM, (0, 0, 0, 0, 0, 0, 0))

    async def start_mission(self) -> CommandAck:
        """Switch to AUTO.MISSION, retrying while PX4 is still validating a fresh upload."""
        clock, cfg = self._ctx.clock, self._ctx.config
        deadline = clock.monotonic() + cfg.mission_start_window_s
        while True:
            try:
                return await self._set_mode("start_mission", FlightMode.MISSION)
            except CommandRejectedError as exc:
                # PX4 denies the mission until the navigator has validated the new upload.
                if exc.result not in (1, 2) or clock.monotonic() >= deadline:
                    raise
            await self._mission_current_or(cfg.mission_start_retry_s)

    async def _mission_current_or(self, delay_s: float) -> None:
        """Until the vehicle's next MISSION_CURRENT, or `delay_s` clock seconds at most.

        PX4's navigator publishes its result once it has checked a new upload, and PX4 sends
        MISSION_CURRENT on it: the mission can start then, not a retry period later.
        """
        transport, clock = self._ctx.transport, self._ctx.clock
        waiter = asyncio.ensure_future(
            transport.wait_msg(frozenset({wire.MISSION_CURRENT}), lambda _: True, 3600.0)
        )
        sleeper = asyncio.ensure_future(clock.sleep(delay_s))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                task.cancel()
            await asyncio.gather(waiter, sleeper, return_exceptions=True)

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
        return await self.command("land", wire.CMD_NAV_LAND, (0, 0, 0, nan, nan, nan, nan))

    def _alt_amsl(self, alt: Altitude) -> float:
        if alt.datum == AltitudeDatum.AMSL:
            return alt.value_m
        tel = self._ctx.telemetry
        if alt.datum in (AltitudeDatum.TAKEOFF, AltitudeDatum.AGL):
            # No terrain model here: AGL is taken relative to home, as PX4's relative_alt is.
            home_amsl = tel.home_alt_amsl_m
            if home_amsl is None and tel.alt_amsl_m is not None and tel.alt_rel_m is not None:
                home_amsl = tel.alt_amsl_m - tel.alt_rel_m
            if home_amsl is None:
                raise InvalidCommandError(
                    f"{self._ctx.vehicle_id}: no home altitude known to convert {alt.datum} altitude"
                )
            return home_amsl + alt.value_m
        raise InvalidCommandError(
            f"{self._ctx.vehicle_id}: altitude datum {alt.datum} not supported"
        )

    def _check_speed(self, speed_mps: float) -> None:
        speed_max_mps = self._ctx.config.speed_max_mps
        if not math.isfinite(speed_mps) or not 0 < speed_mps <= speed_max_mps:
            raise InvalidCommandError(f"speed {speed_mps} m/s outside 0..{speed_max_mps} m/s")

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
        return await self.command("goto", wire.CMD_DO_REPOSITION, params, as_int=(lat, lon, z))

    async def orbit(
        self, center: GeoPoint, radius_m: float, speed_mps: float, alt: Altitude | None = None
    ) -> CommandAck:
        """Orbit a point (DO_ORBIT as COMMAND_INT); radius > 0 clockwise; alt None keeps altitude."""
        self._require_airborne("orbit")
        cfg = self._ctx.config
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
        return await self.command("orbit", wire.CMD_DO_ORBIT, params, as_int=(lat, lon, z))

    async def change_speed(self, speed_mps: float) -> CommandAck:
        """Change ground speed (DO_CHANGE_SPEED p1=1 ground speed, p3=-1 throttle unchanged)."""
        self._require_airborne("change_speed")
        self._check_speed(speed_mps)
        return await self.command(
            "change_speed", wire.CMD_DO_CHANGE_SPEED, (1, speed_mps, -1, 0, 0, 0, 0)
        )

    async def aim_camera(self, pitch_deg: float, yaw_deg: float) -> CommandAck:
        """Point the gimbal (gimbal protocol v2): take primary control, then pitch/yaw, pitch horizon-locked."""
        if not (math.isfinite(pitch_deg) and -90.0 <= pitch_deg <= 90.0 and math.isfinite(yaw_deg)):
            raise InvalidCommandError(f"gimbal pitch {pitch_deg} / yaw {yaw_deg} out of range")
        cfg = self._ctx.config
        # PX4's gimbal manager obeys only its primary controller; naming ourselves is idempotent.
        await self.command(
            "gimbal_control",
            wire.CMD_DO_GIMBAL_MANAGER_CONFIGURE,
            (cfg.gcs_sysid, cfg.gcs_compid, -1, -1, 0, 0, 0),
        )
        return await self.command(
            "aim_camera",
            wire.CMD_DO_GIMBAL_MANAGER_PITCHYAW,
            (pitch_deg, yaw_deg, math.nan, math.nan, wire.GIMBAL_MANAGER_FLAGS_PITCH_LOCK, 0, 0),
        )
