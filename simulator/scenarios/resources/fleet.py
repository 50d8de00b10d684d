"""Drones: simulated by `dfr-sim fleet` on free non-PX4 ports, or external vehicles (`--vehicle`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from simulator.scenarios.errors import ConfigurationError, ResourceError, VehicleUnreachableError
from simulator.scenarios.observer import MavlinkObserver, ObservedVehicle
from simulator.scenarios.ports import free_port, free_udp_pair
from simulator.scenarios.process import ChildProcess, dfr_sim_command, http_ok
from simulator.scenarios.record import MapPoint, ScenarioRecord, Track
from simulator.scenarios.resources.base import Resource, RunContext
from simulator.scenarios.resources.fleet_file import SimFleetSpec, VehicleEndpoint, fleet_toml
from simulator.scenarios.resources.weather import Weather

log = logging.getLogger(__name__)
CAMERA_SIZE = "192x108"
CAMERA_FPS = 10


class SimFleet(Resource[SimFleetSpec]):
    """Drones: `dfr-sim fleet` on free non-PX4 ports, or external vehicles given with `--vehicle`.

    What a scenario may read of the drones: `observed(vehicle_id)`, kept up to date from the
    simulator's truth endpoint (simulated fleets) or from the vehicles' MAVLink GCS link (external
    vehicles with `?gcs=HOST:PORT`).
    """

    type_name = "SimFleet"
    spec_type = SimFleetSpec
    references = ("weather",)

    def __init__(self, name: str, spec: SimFleetSpec, context: RunContext) -> None:
        super().__init__(name, spec, context)
        self.process: ChildProcess | None = None
        self.endpoints: list[VehicleEndpoint] = []
        self.fleet_file: Path | None = None
        self.control_port = 0
        self.observer: MavlinkObserver | None = None
        self._control: httpx.AsyncClient | None = None
        self._truth: dict[int, ObservedVehicle] = {}
        self._poller: asyncio.Task[None] | None = None
        self._t0 = 0.0

    @property
    def external(self) -> bool:
        """True when the vehicles are external (`--vehicle`), not simulated here."""
        return bool(self.context.vehicle_urls)

    @property
    def control(self) -> httpx.AsyncClient:
        """The simulator's fault-injection control API client (simulated fleets only)."""
        if self._control is None:
            raise ResourceError(
                f"resource {self.name!r}: no simulator control API "
                + ("(external vehicles)" if self.external else "(not started)")
            )
        return self._control

    async def start(self, others: Mapping[str, Resource[Any]]) -> None:
        """Assign ports, write the fleet file, start the simulator (or reach external vehicles)."""
        self._t0 = asyncio.get_running_loop().time()
        if self.external:
            await self._attach_external()
        else:
            self._assign_ports()
        self.fleet_file = self.context.work_dir / f"fleet-{self.name}.toml"
        self.fleet_file.write_text(self.fleet_toml(), encoding="utf-8")
        if self.external:
            gcs_targets = [e.gcs for e in self.endpoints if e.gcs is not None]
            if gcs_targets:
                self.observer = MavlinkObserver()
                await self.observer.open()
                self.observer.poke(gcs_targets)
            return
        argv = dfr_sim_command(
            "fleet",
            "--fleet",
            str(self.fleet_file),
            "--speedup",
            f"{self.context.speedup:g}",
            "--control-port",
            str(self.control_port),
            "--gcs-base-port",
            "0",  # no GCS link: it would send to PX4's 14550 until someone answered
            "--seed",
            str(self.spec.seed),
        )
        if self.spec.cameras:
            # Small and slow: pictures to record and to point, not to look at.
            argv += ["--camera", "--camera-size", CAMERA_SIZE, "--camera-fps", str(CAMERA_FPS)]
        self.process = ChildProcess(
            f"simulated fleet ({self.name})", argv, self.context.work_dir / f"fleet-{self.name}.log"
        )
        await self.process.start()
        await self.process.wait_ready(
            lambda: http_ok(f"http://127.0.0.1:{self.control_port}/drones"),
            self.context.start_timeout_s,
            "answering on its control API",
        )
        self._control = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.control_port}", timeout=10.0
        )
        weather = self._ref(others, self.spec.weather, Weather)
        if weather is not None:
            w = weather.spec
            for vehicle in self.spec.vehicles:
                await self.inject(
                    vehicle.id,
                    "wind",
                    speed_mps=w.wind_speed_mps,
                    from_deg=w.wind_from_deg,
                    gust_mps=w.gust_mps,
                )
        await self._poll_truth()
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever())

    def _assign_ports(self) -> None:
        used: set[int] = set()
        for index, vehicle in enumerate(self.spec.vehicles):
            client_port = free_udp_pair(used)
            video_url = None
            if self.spec.cameras:
                video_url = f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM, avoid=used)}"
            self.endpoints.append(
                VehicleEndpoint(
                    vehicle_id=vehicle.id,
                    system_id=index + 1,
                    mavlink_url=f"udpin://127.0.0.1:{client_port}",
                    gcs=None,
                    signing_key=secrets.token_hex(32),
                    video_url=video_url,
                )
            )
        self.control_port = free_port(avoid=used)

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self._poll_truth()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.debug("truth poll failed: %s", exc)
            await asyncio.sleep(0.2)

    async def _poll_truth(self) -> None:
        now = asyncio.get_running_loop().time() - self._t0
        for snap in await self.truth():
            sysid = int(snap["system_id"])
            view = self._truth.get(sysid)
            if view is None:
                view = self._truth[sysid] = ObservedVehicle(system_id=sysid)
            view.last_heartbeat_s = now
            mode = str(snap["mode"])
            if mode != view.mode:
                view.modes_seen.append((now, mode))
            view.mode = mode
            view.armed = bool(snap["armed"])
            view.landed = bool(snap["landed"])
            view.lat, view.lon = float(snap["lat_deg"]), float(snap["lon_deg"])
            view.alt_amsl_m = float(snap["alt_amsl_m"])
            view.alt_rel_m = float(snap["alt_rel_home_m"])
            view.battery_fraction = float(snap.get("battery_fraction", 1.0))
            pitch = snap.get("gimbal_pitch_deg")
            view.gimbal_pitch_deg = None if pitch is None else float(pitch)
            if view.armed or not view.track or view.track[-1].alt_m > 0.5:
                view.add_track_point(now)

    async def _attach_external(self) -> None:
        urls = self.context.vehicle_urls
        if len(urls) < len(self.spec.vehicles):
            raise ConfigurationError(
                f"resource {self.name!r} needs {len(self.spec.vehicles)} vehicles, "
                f"but {len(urls)} --vehicle URL(s) were given"
            )
        for index, (vehicle, url) in enumerate(zip(self.spec.vehicles, urls, strict=False)):
            parsed = urlparse(url)
            gcs = None
            query = parse_qs(parsed.query)
            if "gcs" in query:
                host, _, port = query["gcs"][0].rpartition(":")
                gcs = (host or "127.0.0.1", int(port))
            base_url = url.split("?", 1)[0]
            await _wait_vehicle(base_url, self.context.vehicle_timeout_s)
            self.endpoints.append(VehicleEndpoint(vehicle.id, index + 1, base_url, gcs))

    def fleet_toml(self) -> str:
        """The fleet file both the service and `dfr-sim fleet` read."""
        return fleet_toml(self.spec, self.endpoints)

    def observed(self, vehicle_id: str) -> ObservedVehicle | None:
        """What has been seen of a vehicle (by its fleet id): position, mode, armed, track."""
        sysid = self.system_id(vehicle_id)
        if self.observer is not None:
            return self.observer.vehicles.get(sysid)
        return self._truth.get(sysid)

    def system_id(self, vehicle_id: str) -> int:
        """MAVLink system id of a vehicle."""
        for e in self.endpoints:
            if e.vehicle_id == vehicle_id:
                return e.system_id
        raise ResourceError(f"resource {self.name!r} has no vehicle {vehicle_id!r}")

    def vehicle_ids(self) -> list[str]:
        """Fleet ids of every vehicle."""
        return [v.id for v in self.spec.vehicles]

    async def truth(self) -> list[dict[str, Any]]:
        """True state of every simulated drone (the control API's truth endpoint)."""
        response = await self.control.get("/drones")
        response.raise_for_status()
        return list(response.json())

    async def inject(self, vehicle_id: str, fault: str, **params: Any) -> dict[str, Any]:
        """Inject a fault: `link_cut`, `gps_loss`, `battery_drop`, `wind`, `refuse_next_command`."""
        index = self.system_id(vehicle_id) - 1
        response = await self.control.post(f"/drones/{index}/faults/{fault}", json=params)
        if response.status_code >= 400:
            raise ResourceError(
                f"simulator refused fault {fault!r} for {vehicle_id}: "
                f"{response.status_code} {response.text[:300]}"
            )
        body = response.json()
        return dict(body) if isinstance(body, dict) else {"result": body}

    def contribute(self, record: ScenarioRecord) -> None:
        """Docks on the map and every observed track."""
        for d in self.spec.docks:
            record.points.append(MapPoint(label=d.name, kind="dock", lat=d.lat, lon=d.lon))
        for e in self.endpoints:
            seen = self.observed(e.vehicle_id)
            if seen is not None and len(seen.track) > 1:
                record.tracks.append(Track(vehicle_id=e.vehicle_id, points=list(seen.track)))

    async def stop(self) -> None:
        """Stop the simulator and the observer."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._control is not None:
            await self._control.aclose()
            self._control = None
        if self.process is not None:
            await self.process.stop()
            self.process = None
        if self.observer is not None:
            self.observer.close()
            self.observer = None


async def _wait_vehicle(url: str, timeout_s: float) -> None:
    """Raise VehicleUnreachableError unless a heartbeat arrives on `url` within `timeout_s`."""
    parsed = urlparse(url)
    if parsed.port is None or not parsed.hostname:
        raise ConfigurationError(
            f"--vehicle {url!r}: expected udpin://HOST:PORT or udpout://HOST:PORT"
        )
    observer = MavlinkObserver()
    try:
        if parsed.scheme in ("udpin", "udp"):
            try:
                await observer.open(parsed.port)
            except OSError as exc:
                raise VehicleUnreachableError(f"--vehicle {url}: cannot listen: {exc}") from exc
        elif parsed.scheme == "udpout":
            await observer.open(0)
            observer.poke([(parsed.hostname, parsed.port)], interval_s=0.5)
        else:
            raise ConfigurationError(
                f"--vehicle {url!r}: scheme {parsed.scheme!r} is not supported (udpin, udpout)"
            )
        if not await observer.wait_heartbeat(timeout_s):
            raise VehicleUnreachableError(
                f"--vehicle {url}: no MAVLink heartbeat within {timeout_s:.0f} s"
            )
    finally:
        observer.close()
