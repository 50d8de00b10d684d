"""Commands to flying drones: the pilot's, the orbit over the scene, and the recall home."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from dfr.airspace import AirspaceService
from dfr.errors import ConflictError, DfrError, InvalidInputError
from dfr.flights.book import ActiveFlight, FlightPart
from dfr.flights.launch import Launcher, Spawn
from flight import CommandAck, FlightError, FlightMode, FlightPhase, VehicleLink
from geofence import Altitude, AltitudeDatum, GeoPoint

PilotCommand = Literal["hold", "resume", "goto", "orbit", "rtl", "land"]
ORBIT_SPEED_MPS = 5.0
#: Commands that take no argument: what each asks of the vehicle's link.
SIMPLE_COMMANDS: dict[str, Callable[[VehicleLink], Awaitable[CommandAck]]] = {
    "hold": lambda link: link.hold(),
    "resume": lambda link: link.resume(),
    "rtl": lambda link: link.return_to_launch(),
    "land": lambda link: link.land(),
}


@dataclass(kw_only=True)
class FlightCommands(FlightPart):
    """Sends commands to tracked flights, each checked before anything goes to the vehicle."""

    airspace: AirspaceService
    launcher: Launcher
    spawn: Spawn

    async def command(
        self,
        flight_id: int,
        command: PilotCommand,
        *,
        lat: float | None = None,
        lon: float | None = None,
        alt_agl_m: float | None = None,
        radius_m: float | None = None,
        speed_mps: float | None = None,
    ) -> CommandAck:
        """Send a pilot command; geofence refuses an illegal go-to or orbit before anything is sent."""
        active = self.book.active.get(flight_id)
        if active is None:
            row = await asyncio.to_thread(self.book.flight_row, flight_id)
            raise ConflictError(f"flight {flight_id} is {row.state}; it takes no commands")
        link = self.fleet.vehicle(active.drone_id)
        state = link.state()
        if command in ("goto", "orbit"):
            point = self._command_point(active, lat, lon)
            alt = alt_agl_m
            if alt is None:
                alt = state.alt_agl_m if state.alt_agl_m is not None else 60.0
            self._check_legal(point, alt)
            home_amsl = state.home_alt_amsl_m
            if home_amsl is None:
                raise ConflictError(f"drone {active.drone_id} has not reported its home altitude")
            altitude = Altitude(home_amsl + alt, AltitudeDatum.AMSL)
            if command == "goto":
                active.tracker.note_command("goto")
                ack = await link.goto(point, altitude, speed_mps)
            else:
                radius = radius_m if radius_m is not None else 50.0
                active.tracker.note_command("orbit")
                ack = await link.orbit(point, radius, speed_mps or ORBIT_SPEED_MPS, altitude)
        elif command in SIMPLE_COMMANDS:
            active.tracker.note_command(command)
            ack = await SIMPLE_COMMANDS[command](link)
        else:  # pragma: no cover - the API model refuses other values
            raise InvalidInputError(f"unknown command {command!r}", field="command")
        await self.book.store_note(active, f"pilot command {command} accepted by the vehicle")
        return ack

    def _command_point(
        self, active: ActiveFlight, lat: float | None, lon: float | None
    ) -> GeoPoint:
        if lat is None and lon is None:
            target = active.tracker.target
            if target is None:
                raise InvalidInputError("lat and lon are required", field="lat")
            return target
        if lat is None or lon is None:
            raise InvalidInputError("lat and lon are given together", field="lat")
        return GeoPoint(lat, lon)

    def _check_legal(self, point: GeoPoint, alt_agl_m: float) -> None:
        violations = self.airspace.airspace().check_point(
            point, Altitude(alt_agl_m, AltitudeDatum.AGL), self.book.clock.now()
        )
        if violations:
            raise InvalidInputError(
                "refused by the geofence: " + "; ".join(v.reason for v in violations),
                field="target",
            )

    def orbit_on_arrival(self, active: ActiveFlight) -> None:
        """On arrival, circle the scene: a multicopter hovers at the plan's loiter item otherwise."""
        if active.orbiting or active.orbit_radius_m <= 0 or active.scene is None:
            return
        active.orbiting = True
        self.spawn(self._orbit_scene(active))

    async def _orbit_scene(self, active: ActiveFlight) -> None:
        link = self.fleet.vehicle(active.drone_id)
        home_amsl = link.state().home_alt_amsl_m
        assert active.scene is not None
        try:
            if home_amsl is None:
                raise ConflictError("the vehicle has not reported its home altitude")
            # Under the flight's lock: a reassignment in progress must not be undone by an orbit
            # over the old scene, and a flight that has just been handed over orbits nothing.
            async with active.lock:
                if self.book.active.get(active.flight_id) is not active or active.recalled:
                    return
                active.tracker.note_command("orbit")
                await link.orbit(
                    active.scene,
                    active.orbit_radius_m,
                    ORBIT_SPEED_MPS,
                    Altitude(home_amsl + active.orbit_alt_agl_m, AltitudeDatum.AMSL),
                )
        except (FlightError, DfrError) as exc:
            await self.book.store_note(active, f"orbit over the scene refused, hovering: {exc}")
            return
        await self.book.store_note(
            active, f"orbiting the scene at {active.orbit_radius_m:.0f} m radius"
        )

    async def recall(self, flight_id: int, reason: str) -> None:
        """End a flight's task: return to the dock (or abort it if it has not taken off)."""
        active = self.book.active.get(flight_id)
        if active is None:
            return
        link = self.fleet.vehicle(active.drone_id)
        if await self.launcher.stop(active, link):
            async with active.lock:
                if active.tracker.machine.can(FlightPhase.ABORTED):
                    await self.book.store(active, [active.tracker.abort(f"recalled: {reason}")])
            return
        # Under the flight's lock: the orbit ordered on arrival may be on its way to the vehicle,
        # and one reaching it after this release would put the drone back over the scene.
        async with active.lock:
            active.recalled = True
            note = await self._send_home(active, link)
        await self.book.store_note(active, f"{note}: {reason}")

    async def _send_home(self, active: ActiveFlight, link: VehicleLink) -> str:
        state = link.state()
        seq = active.tracker.on_scene_seq
        if (
            active.tracker.phase == FlightPhase.ON_SCENE
            and state.mode in (FlightMode.MISSION, FlightMode.ORBIT, FlightMode.HOLD)
            and seq is not None
            and seq + 1 < len(active.mission)
        ):
            # Over the scene: fly the planned (legal) return route home rather than PX4's straight RTL.
            await link.set_mission_current(seq + 1)
            # An orbit ordered on arrival may not show in the reported mode yet: leave it too.
            if state.mode != FlightMode.MISSION or active.orbiting:
                active.tracker.note_command("resume")
                await link.resume()
            return "released to the planned return"
        active.tracker.note_command("rtl")
        await link.return_to_launch()
        return "recalled to the dock"
