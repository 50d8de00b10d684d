"""Resource types a scenario receives by constructor parameter name, built from YAML specifications.

`ZoneSet` and `Weather` are data; `SimCad`, `SimFleet` and `DfrService` are processes on loopback
(`dfr-sim cad`, `dfr-sim fleet`, `dfr serve`) started fresh for each scenario and always stopped.
One module per resource type; `base` holds what they share.
"""

from simulator.scenarios.resources.base import (
    DEFAULT_VEHICLE_TIMEOUT_S,
    SPEC_CONFIG,
    Resource,
    RunContext,
)
from simulator.scenarios.resources.cad import SimCad, SimCadSpec
from simulator.scenarios.resources.fleet import SimFleet
from simulator.scenarios.resources.fleet_file import (
    AgencySpec,
    DockSpec,
    SimFleetSpec,
    VehicleEndpoint,
    VehicleSpec,
    fleet_toml,
)
from simulator.scenarios.resources.registry import RESOURCE_TYPES, build_resource, clean_work_dir
from simulator.scenarios.resources.service import ROLES, DfrService, DfrServiceSpec
from simulator.scenarios.resources.weather import Weather, WeatherSpec
from simulator.scenarios.resources.zones import (
    PACKAGE_PREFIX,
    KeepOut,
    ZoneSet,
    ZoneSetSpec,
    circle_vertices,
)

__all__ = [
    "DEFAULT_VEHICLE_TIMEOUT_S",
    "PACKAGE_PREFIX",
    "RESOURCE_TYPES",
    "ROLES",
    "SPEC_CONFIG",
    "AgencySpec",
    "DfrService",
    "DfrServiceSpec",
    "DockSpec",
    "KeepOut",
    "Resource",
    "RunContext",
    "SimCad",
    "SimCadSpec",
    "SimFleet",
    "SimFleetSpec",
    "VehicleEndpoint",
    "VehicleSpec",
    "Weather",
    "WeatherSpec",
    "ZoneSet",
    "ZoneSetSpec",
    "build_resource",
    "circle_vertices",
    "clean_work_dir",
    "fleet_toml",
]
