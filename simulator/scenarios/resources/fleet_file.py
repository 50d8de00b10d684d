"""The fleet file: docks, drones, the agency and its dispatch policy, as both the service and
`dfr-sim fleet` read it (TOML)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from geofence import GeoPoint
from simulator.scenarios.errors import ConfigurationError
from simulator.scenarios.resources.base import SPEC_CONFIG

_BARE_TOML_KEY = re.compile(r"[A-Za-z0-9_-]+")


class DockSpec(BaseModel):
    """A dock (drone station) of the scenario's agency."""

    model_config = SPEC_CONFIG

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

    model_config = SPEC_CONFIG

    id: str
    dock: str
    cruise_speed_mps: float = Field(default=15.0, gt=0)
    climb_rate_mps: float = Field(default=4.0, gt=0)
    endurance_s: float = Field(default=2400.0, gt=0)


class AgencySpec(BaseModel):
    """The agency of the fleet file."""

    model_config = SPEC_CONFIG

    id: str = "scenario"
    name: str = "Scenario agency"
    timezone: str = "America/Denver"


class SimFleetSpec(BaseModel):
    """Docks and drones; simulated by `dfr-sim fleet` unless `--vehicle URL`s replace them.

    `policy` is the agency's dispatch policy as the fleet file's `[policy]` table (the service's
    defaults where absent), e.g. `{preemption: {allowed: true, min_priority_gap: 2}}`; the service
    judges it when it loads the fleet file.
    """

    model_config = SPEC_CONFIG

    agency: AgencySpec = AgencySpec()
    docks: list[DockSpec]
    vehicles: list[VehicleSpec]
    weather: str | None = None
    seed: int = 0
    policy: dict[str, Any] | None = None
    #: Each simulated drone streams its camera (RTP/H.264) to the service: the fleet file names a
    #: `video_url` per drone, so the service can show and record it.
    cameras: bool = False

    @field_validator("policy")
    @classmethod
    def _policy_fits_a_fleet_file(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # Its meaning is the service's to judge (it refuses to start on a policy it cannot read);
        # a value TOML cannot hold is refused here, by name.
        if value is not None:
            try:
                toml_table("policy", value)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
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
    #: MAVLink signing key (hex) the simulated vehicle and the service both start with, so the run
    #: is signed from the first frame; None (external vehicles): the service provisions one.
    signing_key: str | None = None
    #: Where the service receives the drone's camera (`udp://host:port`); None: no camera.
    video_url: str | None = None


def fleet_toml(fleet: SimFleetSpec, endpoints: Sequence[VehicleEndpoint]) -> str:
    """The fleet file both the service and `dfr-sim fleet` read."""
    f = fleet
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
    by_id = {e.vehicle_id: e for e in endpoints}
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
        video_url = by_id[v.id].video_url
        if video_url is not None:
            lines.append(f"video_url = {json.dumps(video_url)}")
        key = by_id[v.id].signing_key
        if key is not None:
            lines.append(f"signing_key = {json.dumps(key)}")
    if f.policy is not None:
        lines += toml_table("policy", f.policy)
    return "\n".join(lines) + "\n"


def toml_table(name: str, table: Mapping[str, Any]) -> list[str]:
    """`[name]` with its values, then each sub-table as `[name.key]` (TOML lines, blank first)."""
    lines = ["", f"[{name}]"]
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((f"{name}.{_toml_key(key)}", value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for sub_name, sub_table in nested:
        lines += toml_table(sub_name, sub_table)
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
