"""Resource types a scenario receives by constructor parameter name, built from YAML specifications.

`ZoneSet` and `Weather` are data; `SimCad`, `SimFleet` and `DfrService` are processes on loopback
(`dfr-sim cad`, `dfr-sim fleet`, `dfr serve`) started fresh for each scenario and always stopped.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import importlib.resources
import json
import logging
import math
import os
import re
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import parse_qs, urlparse

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geofence import GeoPoint
from simulator.cad import DfrPoster, SimIncident
from simulator.scenarios.errors import (
    ConfigurationError,
    ResourceError,
    ResourceStartError,
    UnknownResourceError,
    VehicleUnreachableError,
)
from simulator.scenarios.observer import MavlinkObserver, ObservedVehicle
from simulator.scenarios.process import (
    ChildProcess,
    dfr_sim_command,
    free_port,
    http_ok,
    python_module_command,
    udp_port_free,
)
from simulator.scenarios.record import MapPoint, ScenarioRecord, Track, TrackPoint, ZoneShape

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
ROLES: tuple[str, ...] = ("admin", "dispatcher", "pilot", "analyst", "tester", "cad")
_SPEC = ConfigDict(frozen=True, extra="forbid")
_R = TypeVar("_R", bound="Resource")
_BARE_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every resource of a run shares."""

    work_dir: Path
    speedup: float = 20.0
    vehicle_urls: tuple[str, ...] = ()
    start_timeout_s: float = 90.0


class Resource(abc.ABC):
    """A named resource built from its specification; `start()`/`stop()` bracket one scenario."""

    type_name: ClassVar[str]
    spec_type: ClassVar[type[BaseModel]]
    #: Spec fields that name other resources (started first and passed to `start`).
    references: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, spec: BaseModel, context: RunContext) -> None:
        self.name = name
        self.spec = spec
        self.context = context

    def dependencies(self) -> list[str]:
        """Names of the resources this one needs started before it."""
        names = [getattr(self.spec, field) for field in self.references]
        return [n for n in names if n]

    async def start(self, others: Mapping[str, Resource]) -> None:  # noqa: B027 - data resources need nothing
        """Bring the resource up (others: the started resources it references)."""

    async def stop(self) -> None:  # noqa: B027 - data resources hold nothing
        """Release everything; safe to call twice and after a failed start."""

    def contribute(self, record: ScenarioRecord) -> None:  # noqa: B027
        """Add evidence (zones, docks, tracks) to a scenario's record for the report."""

    def _ref(self, others: Mapping[str, Resource], name: str | None, kind: type[_R]) -> _R | None:
        if not name:
            return None
        found = others.get(name)
        if not isinstance(found, kind):
            raise ConfigurationError(
                f"resource {self.name!r} references {name!r}, which is not a started {kind.__name__}"
            )
        return found


# -- zones and weather ----------------------------------------------------------------------------


class ZoneSetSpec(BaseModel):
    """GeoJSON zones (the geofence importer's property names), inline or from a file.

    `file` is a path or `package:<package>/<path inside it>` (e.g. the zones shipped with geofence).
    """

    model_config = _SPEC

    file: str | None = None
    features: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> ZoneSetSpec:
        if self.file is not None and self.features:
            raise ValueError("give either file or features, not both")
        return self


@dataclass(frozen=True, slots=True)
class KeepOut:
    """A zone a drone must never enter, as vertices [(lat, lon), ...]."""

    zone_id: str
    name: str
    vertices: tuple[tuple[float, float], ...]


class ZoneSet(Resource):
    """Zones the service loads (DFR_ZONES_FILE) and the scenario checks positions against."""

    type_name = "ZoneSet"
    spec_type = ZoneSetSpec

    def __init__(self, name: str, spec: BaseModel, context: RunContext) -> None:
        super().__init__(name, spec, context)
        assert isinstance(spec, ZoneSetSpec)
        if spec.file is not None:
            try:
                document = json.loads(_read_source(spec.file))
            except (OSError, ValueError, ModuleNotFoundError) as exc:
                raise ConfigurationError(f"zone file {spec.file}: {exc}") from exc
        else:
            document = {"type": "FeatureCollection", "features": list(spec.features)}
        self.document: dict[str, Any] = document
        self.path: Path | None = None
        self.keep_outs: list[KeepOut] = [_keep_out(f) for f in document.get("features", [])]
        self.keep_outs = [k for k in self.keep_outs if k.vertices]

    async def start(self, others: Mapping[str, Resource]) -> None:
        """Write the GeoJSON the service reads."""
        self.path = self.context.work_dir / f"zones-{self.name}.geojson"
        self.path.write_text(json.dumps(self.document), encoding="utf-8")

    def containing(self, lat: float, lon: float) -> list[KeepOut]:
        """Keep-out zones containing the point."""
        return [k for k in self.keep_outs if _point_in_polygon(lat, lon, k.vertices)]

    def contribute(self, record: ScenarioRecord) -> None:
        """Draw every zone."""
        for k in self.keep_outs:
            record.zones.append(ZoneShape(name=k.name, kind="exclusion", vertices=list(k.vertices)))


def _read_source(source: str) -> str:
    if source.startswith(PACKAGE_PREFIX):
        package, _, inner = source[len(PACKAGE_PREFIX) :].partition("/")
        return (importlib.resources.files(package) / inner).read_text(encoding="utf-8")
    return Path(source).read_text(encoding="utf-8")


def _keep_out(feature: Mapping[str, Any]) -> KeepOut:
    props = dict(feature.get("properties") or {})
    kind = str(props.get("kind", "exclusion"))
    zone_id = str(props.get("id", feature.get("id", "")))
    name = str(props.get("name", zone_id))
    geometry = feature.get("geometry") or {}
    if kind != "exclusion":
        return KeepOut(zone_id, name, ())
    if geometry.get("type") == "Polygon":
        ring = geometry["coordinates"][0]
        return KeepOut(zone_id, name, tuple((float(p[1]), float(p[0])) for p in ring))
    if geometry.get("type") == "Point" and "radius_m" in props:
        lon, lat = geometry["coordinates"][:2]
        return KeepOut(
            zone_id, name, circle_vertices(float(lat), float(lon), float(props["radius_m"]))
        )
    return KeepOut(zone_id, name, ())


def circle_vertices(
    lat: float, lon: float, radius_m: float, count: int = 48
) -> tuple[tuple[float, float], ...]:
    """A circle as a polygon (local equirectangular; fine at zone sizes)."""
    m_per_deg_lat = 111_320.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(lat))
    return tuple(
        (
            lat + radius_m * math.cos(2 * math.pi * i / count) / m_per_deg_lat,
            lon + radius_m * math.sin(2 * math.pi * i / count) / m_per_deg_lon,
        )
        for i in range(count)
    )


def _point_in_polygon(lat: float, lon: float, vertices: tuple[tuple[float, float], ...]) -> bool:
    inside = False
    n = len(vertices)
    for i in range(n):
        (y1, x1), (y2, x2) = vertices[i], vertices[(i + 1) % n]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < x_cross:
                inside = not inside
    return inside


class WeatherSpec(BaseModel):
    """Weather at the docks during a scenario."""

    model_config = _SPEC

    wind_speed_mps: float = Field(default=3.0, ge=0, le=60)
    wind_from_deg: float = Field(default=270.0, ge=0, lt=360)
    gust_mps: float = Field(default=0.0, ge=0, le=80)
    visibility_m: float = Field(default=10_000.0, gt=0)
    station: str = "KCOS"


class Weather(Resource):
    """Weather data: given to the service as a fixed observation and to the simulated fleet as wind."""

    type_name = "Weather"
    spec_type = WeatherSpec

    @property
    def weather(self) -> WeatherSpec:
        """The specification."""
        assert isinstance(self.spec, WeatherSpec)
        return self.spec

    def metar(self) -> str:
        """A METAR report of this weather (wind in knots, visibility in statute miles)."""
        w = self.weather
        kt = round(w.wind_speed_mps / 0.514444)
        gust = f"G{round(w.gust_mps / 0.514444):02d}" if w.gust_mps > w.wind_speed_mps else ""
        vis_sm = min(10, round(w.visibility_m / 1609.344))
        return f"METAR {w.station} 121200Z {round(w.wind_from_deg):03d}{kt:02d}{gust}KT {vis_sm}SM CLR 20/05 A3000"


# -- simulated CAD --------------------------------------------------------------------------------


class SimCadSpec(BaseModel):
    """The simulated CAD server (`dfr-sim cad`)."""

    model_config = _SPEC

    format: Literal["plain", "eido"] = "plain"
    agency: str = "scenario"


class SimCad(Resource):
    """`dfr-sim cad` on a free port: receives and records everything the service sends."""

    type_name = "SimCad"
    spec_type = SimCadSpec

    def __init__(self, name: str, spec: BaseModel, context: RunContext) -> None:
        super().__init__(name, spec, context)
        self.port = 0
        self.process: ChildProcess | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def cad(self) -> SimCadSpec:
        """The specification."""
        assert isinstance(self.spec, SimCadSpec)
        return self.spec

    @property
    def base_url(self) -> str:
        """Where the service delivers notes, unit statuses and cancellations."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> httpx.AsyncClient:
        """An HTTP client for the simulated CAD's own API."""
        if self._client is None:
            raise ResourceError(f"resource {self.name!r} (SimCad) is not started")
        return self._client

    async def start(self, others: Mapping[str, Resource]) -> None:
        """Start `dfr-sim cad serve`."""
        self.port = free_port()
        argv = dfr_sim_command(
            "cad", "serve", "--port", str(self.port), "--format", self.cad.format
        )
        self.process = ChildProcess(
            f"simulated CAD ({self.name})", argv, self.context.work_dir / f"cad-{self.name}.log"
        )
        await self.process.start()
        await self.process.wait_ready(
            lambda: http_ok(f"{self.base_url}/events"), self.context.start_timeout_s, "answering"
        )
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=10.0)

    async def received(self, cad_incident_id: str | None = None) -> list[dict[str, Any]]:
        """Everything the service delivered (optionally for one incident), in arrival order.

        Each item: `{seq, idempotency_key, incident_id, format, received_at, body}`.
        """
        params = {"incident": cad_incident_id} if cad_incident_id else None
        response = await self.client.get("/events", params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    async def set_outage(self, mode: str, duration_s: float | None = None) -> None:
        """Switch the CAD's outage mode (`none`, `503`, `timeout`, `slow`, `refuse`)."""
        body: dict[str, Any] = {"mode": mode}
        if duration_s is not None:
            body["duration_s"] = duration_s
        response = await self.client.post("/control/outage", json=body)
        response.raise_for_status()

    async def post_call(self, service: DfrService, incident: SimIncident) -> httpx.Response:
        """Post a call to the service the way this CAD does (plain JSON or EIDO, role `cad`)."""
        async with httpx.AsyncClient() as client:
            poster = DfrPoster(
                client, service.base_url, service.token("cad"), wire_format=self.cad.format
            )
            return await poster.post(incident)

    async def stop(self) -> None:
        """Stop the server."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.process is not None:
            await self.process.stop()
            self.process = None


# -- simulated fleet ------------------------------------------------------------------------------


class DockSpec(BaseModel):
    """A dock (drone station) of the scenario's agency."""

    model_config = _SPEC

    id: str
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_amsl_m: float = 0.0
    response_radius_m: float = Field(default=3218.7, gt=0)

    @property
    def location(self) -> GeoPoint:
        """Where the dock stands."""
        return GeoPoint(self.lat, self.lon)


class VehicleSpec(BaseModel):
    """A drone docked at `dock`."""

    model_config = _SPEC

    id: str
    dock: str
    cruise_speed_mps: float = Field(default=15.0, gt=0)
    climb_rate_mps: float = Field(default=4.0, gt=0)
    endurance_s: float = Field(default=2400.0, gt=0)


class AgencySpec(BaseModel):
    """The agency of the fleet file."""

    model_config = _SPEC

    id: str = "scenario"
    name: str = "Scenario agency"
    timezone: str = "America/Denver"


class SimFleetSpec(BaseModel):
    """Docks and drones; simulated by `dfr-sim fleet` unless `--vehicle URL`s replace them.

    `policy` is the agency's dispatch policy as the fleet file's `[policy]` table (the service's
    defaults where absent), e.g. `{preemption: {allowed: true, min_priority_gap: 2}}`.
    """

    model_config = _SPEC

    agency: AgencySpec = AgencySpec()
    docks: list[DockSpec]
    vehicles: list[VehicleSpec]
    weather: str | None = None
    seed: int = 0
    policy: dict[str, Any] | None = None

    @field_validator("policy")
    @classmethod
    def _policy_the_service_accepts(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The service would refuse to start on a policy it cannot read: refuse it here, by name.
        if value is not None:
            from dfr.dispatch.agency_policy import AgencyPolicy

            try:
                AgencyPolicy.model_validate(value)
            except ValidationError as exc:
                reasons = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(policy)'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(f"not an agency policy the service accepts: {reasons}") from None
        return value

    @model_validator(mode="after")
    def _known_docks(self) -> SimFleetSpec:
        docks = {d.id for d in self.docks}
        for v in self.vehicles:
            if v.dock not in docks:
                raise ValueError(f"vehicle {v.id!r} names unknown dock {v.dock!r}")
        if not self.vehicles:
            raise ValueError("a fleet needs at least one vehicle")
        return self


@dataclass(frozen=True, slots=True)
class VehicleEndpoint:
    """How the service reaches a vehicle (`mavlink_url`) and where the observer pokes it."""

    vehicle_id: str
    system_id: int
    mavlink_url: str
    gcs: tuple[str, int] | None


class SimFleet(Resource):
    """Drones: `dfr-sim fleet` on free non-PX4 ports, or external vehicles given with `--vehicle`.

    What a scenario may read of the drones: `observed(vehicle_id)`, kept up to date from the
    simulator's truth endpoint (simulated fleets) or from the vehicles' MAVLink GCS link (external
    vehicles with `?gcs=HOST:PORT`).
    """

    type_name = "SimFleet"
    spec_type = SimFleetSpec
    references = ("weather",)

    def __init__(self, name: str, spec: BaseModel, context: RunContext) -> None:
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
    def fleet(self) -> SimFleetSpec:
        """The specification."""
        assert isinstance(self.spec, SimFleetSpec)
        return self.spec

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

    async def start(self, others: Mapping[str, Resource]) -> None:
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
            str(self.fleet.seed),
        )
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
        weather = self._ref(others, self.fleet.weather, Weather)
        if weather is not None:
            w = weather.weather
            for vehicle in self.fleet.vehicles:
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
        for index, vehicle in enumerate(self.fleet.vehicles):
            client_port = _free_udp_pair(used)
            self.endpoints.append(
                VehicleEndpoint(
                    vehicle_id=vehicle.id,
                    system_id=index + 1,
                    mavlink_url=f"udpin://127.0.0.1:{client_port}",
                    gcs=None,
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
            if view.armed or not view.track or view.track[-1].alt_m > 0.5:
                view.track.append(
                    TrackPoint(
                        t_s=round(now, 3),
                        lat=view.lat,
                        lon=view.lon,
                        alt_m=round(view.alt_rel_m, 2),
                    )
                )

    async def _attach_external(self) -> None:
        urls = self.context.vehicle_urls
        if len(urls) < len(self.fleet.vehicles):
            raise ConfigurationError(
                f"resource {self.name!r} needs {len(self.fleet.vehicles)} vehicles, "
                f"but {len(urls)} --vehicle URL(s) were given"
            )
        for index, (vehicle, url) in enumerate(zip(self.fleet.vehicles, urls, strict=False)):
            parsed = urlparse(url)
            gcs = None
            query = parse_qs(parsed.query)
            if "gcs" in query:
                host, _, port = query["gcs"][0].rpartition(":")
                gcs = (host or "127.0.0.1", int(port))
            base_url = url.split("?", 1)[0]
            await _wait_vehicle(base_url, self.context.start_timeout_s / 3)
            self.endpoints.append(VehicleEndpoint(vehicle.id, index + 1, base_url, gcs))

    def fleet_toml(self) -> str:
        """The fleet file both the service and `dfr-sim fleet` read."""
        f = self.fleet
        lines = [
            "[agency]",
            f"id = {json.dumps(f.agency.id)}",
            f"name = {json.dumps(f.agency.name)}",
            f"timezone = {json.dumps(f.agency.timezone)}",
        ]
        for d in f.docks:
            lines += [
                "",
                "[[docks]]",
                f"id = {json.dumps(d.id)}",
                f"name = {json.dumps(d.name)}",
                f"lat = {d.lat!r}",
                f"lon = {d.lon!r}",
                f"alt_amsl_m = {d.alt_amsl_m!r}",
                f"response_radius_m = {d.response_radius_m!r}",
            ]
        by_id = {e.vehicle_id: e for e in self.endpoints}
        for v in f.vehicles:
            lines += [
                "",
                "[[drones]]",
                f"id = {json.dumps(v.id)}",
                # Named explicitly: the service cannot re-apply a fleet file with unnamed drones
                # on a restart (every drone's name becomes "" and collides).
                f"name = {json.dumps(v.id)}",
                f"dock = {json.dumps(v.dock)}",
                f"mavlink_url = {json.dumps(by_id[v.id].mavlink_url)}",
                f"cruise_speed_mps = {v.cruise_speed_mps!r}",
                f"climb_rate_mps = {v.climb_rate_mps!r}",
                f"endurance_s = {v.endurance_s!r}",
            ]
        if f.policy is not None:
            lines += _toml_table("policy", f.policy)
        return "\n".join(lines) + "\n"

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
        return [v.id for v in self.fleet.vehicles]

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
        for d in self.fleet.docks:
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


def _toml_table(name: str, table: Mapping[str, Any]) -> list[str]:
    """`[name]` with its values, then each sub-table as `[name.key]` (TOML lines, blank first)."""
    lines = ["", f"[{name}]"]
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((f"{name}.{_toml_key(key)}", value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for sub_name, sub_table in nested:
        lines += _toml_table(sub_name, sub_table)
    return lines


def _toml_key(key: str) -> str:
    return key if _BARE_TOML_KEY.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigurationError(f"cannot write {value!r} into a fleet file (TOML)")


def _free_udp_pair(used: set[int]) -> int:
    """A UDP port P with P+40 also free (the simulator binds client + 40 like PX4 SITL)."""
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM, avoid=set(used))
        if port + 40 <= 65535 and port + 40 not in used and udp_port_free(port + 40):
            used.update({port, port + 40})
            return port
    raise ResourceStartError("no free pair of UDP ports found")


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


# -- the service ----------------------------------------------------------------------------------


class DfrServiceSpec(BaseModel):
    """`dfr serve` started here (fleet/cad/zones/weather wired by resource name) or attached by URL."""

    model_config = _SPEC

    url: str | None = None
    tokens: dict[str, str] = Field(default_factory=dict)
    fleet: str | None = None
    cad: str | None = None
    zones: str | None = None
    weather: str | None = None
    settings: dict[str, str] = Field(default_factory=dict)


class DfrService(Resource):
    """The service under test; `client(role)` gives an HTTP client with a token of that role."""

    type_name = "DfrService"
    spec_type = DfrServiceSpec
    references = ("fleet", "cad", "zones", "weather")

    def __init__(self, name: str, spec: BaseModel, context: RunContext) -> None:
        super().__init__(name, spec, context)
        self.port = 0
        self.data_dir: Path | None = None
        self.process: ChildProcess | None = None
        self._tokens: dict[str, str] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._env: dict[str, str] = {}
        self._argv: list[str] = []

    @property
    def service(self) -> DfrServiceSpec:
        """The specification."""
        assert isinstance(self.spec, DfrServiceSpec)
        return self.spec

    @property
    def base_url(self) -> str:
        """The service's root URL."""
        return self.service.url or f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The live stream (`WS /api/v1/stream`)."""
        return self.base_url.replace("http", "ws", 1) + "/api/v1/stream"

    def token(self, role: str) -> str:
        """A token of `role`."""
        try:
            return self._tokens[role]
        except KeyError:
            raise ResourceError(f"resource {self.name!r} has no token for role {role!r}") from None

    def client(self, role: str = "tester") -> httpx.AsyncClient:
        """An HTTP client on `/api/v1` with a bearer token of `role`."""
        if role not in self._clients:
            self._clients[role] = httpx.AsyncClient(
                base_url=f"{self.base_url}/api/v1",
                headers={"Authorization": f"Bearer {self.token(role)}"},
                timeout=15.0,
            )
        return self._clients[role]

    async def start(self, others: Mapping[str, Resource]) -> None:
        """Start (or attach to) the service and wait for its health check."""
        if self.service.url:
            self._tokens = dict(self.service.tokens)
            if not await http_ok(f"{self.base_url}/api/v1/health", timeout_s=5.0):
                raise ResourceStartError(f"resource {self.name!r}: {self.base_url} is not healthy")
            return
        fleet = self._ref(others, self.service.fleet, SimFleet)
        cad = self._ref(others, self.service.cad, SimCad)
        zones = self._ref(others, self.service.zones, ZoneSet)
        weather = self._ref(others, self.service.weather, Weather)
        self.port = free_port()
        self.data_dir = self.context.work_dir / f"service-{self.name}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("DFR_")}
        self._env.update(
            _service_settings(
                data_dir=self.data_dir,
                speedup=self.context.speedup,
                zones=zones,
                cad=cad,
                weather=weather,
                extra=self.service.settings,
            )
        )
        self._argv = python_module_command(
            "dfr", "serve", "--host", "127.0.0.1", "--port", str(self.port)
        )
        if fleet is not None and fleet.fleet_file is not None:
            self._argv += ["--fleet", str(self._fleet_file(fleet, zones))]
        await asyncio.to_thread(self._create_tokens)
        await self._launch()

    def _fleet_file(self, fleet: SimFleet, zones: ZoneSet | None) -> Path:
        # The service loads its zones from the fleet file's top-level `zones` list.
        if zones is None or zones.path is None:
            assert fleet.fleet_file is not None
            return fleet.fleet_file
        path = self.context.work_dir / f"fleet-{self.name}-with-zones.toml"
        header = f"zones = [{json.dumps(str(zones.path.resolve()))}]\n\n"
        path.write_text(header + fleet.fleet_toml(), encoding="utf-8")
        return path

    def _create_tokens(self) -> None:
        # Tokens are set up before the first start, straight in the service's own store.
        from dfr.auth import create_token
        from dfr.db import make_engine, session_scope, upgrade_schema
        from dfr.models import Role

        assert self.data_dir is not None
        url = f"sqlite:///{(self.data_dir / 'dfr.sqlite3').resolve()}"
        upgrade_schema(url)
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                for role in ROLES:
                    _, secret = create_token(session, f"scenario-{role}", Role(role))
                    self._tokens[role] = secret
        finally:
            engine.dispose()

    async def _launch(self) -> None:
        self.process = ChildProcess(
            f"service ({self.name})",
            self._argv,
            self.context.work_dir / f"service-{self.name}.log",
            env=self._env,
        )
        await self.process.start()
        await self.process.wait_ready(
            lambda: http_ok(f"{self.base_url}/api/v1/health"),
            self.context.start_timeout_s,
            "a healthy /api/v1/health",
        )

    async def restart(self, kill: bool = False) -> None:
        """Stop (SIGTERM, or SIGKILL with `kill`) and start again on the same port and data."""
        if self.process is None:
            raise ResourceError(f"resource {self.name!r}: only a service started here can restart")
        await self._close_clients()
        if kill:
            await self.process.kill()
        else:
            await self.process.stop()
        await self._launch()

    async def kill(self) -> None:
        """SIGKILL the service (a crash)."""
        if self.process is not None:
            await self.process.kill()

    async def _close_clients(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def stop(self) -> None:
        """Stop the service."""
        await self._close_clients()
        if self.process is not None:
            await self.process.stop()
            self.process = None


def _service_settings(
    *,
    data_dir: Path,
    speedup: float,
    zones: ZoneSet | None,
    cad: SimCad | None,
    weather: Weather | None,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """DFR_* variables for the service, limited to the settings it actually has (it refuses others)."""
    from dfr.settings import Settings

    fields = Settings.model_fields
    env = {"DFR_MODE": "test", "DFR_DATA_DIR": str(data_dir)}
    if "speedup" in fields:
        env["DFR_SPEEDUP"] = f"{speedup:g}"
    if zones is not None and zones.path is not None and "zones_file" in fields:
        env["DFR_ZONES_FILE"] = str(zones.path)
    if cad is not None:
        env["DFR_CAD__BASE_URL"] = cad.base_url
        env["DFR_CAD__FORMAT"] = cad.cad.format
    if weather is not None and "weather" in fields:
        # A fixed observation, not a METAR: a METAR's stamp ages with the sped-up service clock
        # (90 simulated minutes pass in 4.5 wall minutes at 20x) and would then be refused as stale.
        w = weather.weather
        env["DFR_WEATHER__STATIC_WIND_MPS"] = f"{w.wind_speed_mps:g}"
        if w.gust_mps > w.wind_speed_mps:
            env["DFR_WEATHER__STATIC_GUST_MPS"] = f"{w.gust_mps:g}"
        env["DFR_WEATHER__STATIC_VISIBILITY_M"] = f"{w.visibility_m:g}"
    env.update(extra)
    return env


RESOURCE_TYPES: dict[str, type[Resource]] = {
    t.type_name: t for t in (ZoneSet, Weather, SimCad, SimFleet, DfrService)
}


def build_resource(
    name: str, type_name: str, spec: Mapping[str, Any], context: RunContext
) -> Resource:
    """A resource of a named type from its specification (ConfigurationError when invalid)."""
    resource_type = RESOURCE_TYPES.get(type_name)
    if resource_type is None:
        raise UnknownResourceError(
            f"unknown resource type {type_name!r}; known types: {sorted(RESOURCE_TYPES)}"
        )
    try:
        parsed = resource_type.spec_type.model_validate(dict(spec))
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(spec)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"resource {name!r} ({type_name}): {reasons}") from None
    return resource_type(name, parsed, context)


def clean_work_dir(path: Path) -> None:
    """Remove a run's scratch directory."""
    shutil.rmtree(path, ignore_errors=True)
