"""PX4-compatible simulated drones speaking MAVLink over UDP (independent of the service's code)."""

from .camera_fleet import FleetCameraOptions, FleetCameras
from .clock import SimClock
from .config import DroneConfig
from .drone import SimDrone
from .errors import SimConfigError, SimControlError, SimVehicleError, UnknownDroneError
from .fleet import (
    FleetConfig,
    SimFleet,
    build_fleet_config,
    load_fleet_file,
    with_cameras,
    with_signing_dir,
)
from .modes import FlightMode, custom_mode
from .signing import VehicleSigning
from .snapshot import DroneSnapshot

__all__ = [
    "DroneConfig",
    "DroneSnapshot",
    "FleetCameraOptions",
    "FleetCameras",
    "FleetConfig",
    "FlightMode",
    "SimClock",
    "SimConfigError",
    "SimControlError",
    "SimDrone",
    "SimFleet",
    "SimVehicleError",
    "UnknownDroneError",
    "VehicleSigning",
    "build_fleet_config",
    "custom_mode",
    "load_fleet_file",
    "with_cameras",
    "with_signing_dir",
]
