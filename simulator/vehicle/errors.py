"""Errors raised by the simulated vehicle fleet.

SimVehicleError
├── SimConfigError        bad fleet configuration (ports, speed-up, fleet file, homes, camera
│                         options), raised before anything starts or when ports cannot be bound
└── SimControlError       a fault-injection request that cannot be applied (nothing changes)
    └── UnknownDroneError the drone index does not exist

The control API answers SimControlError with 400 (UnknownDroneError with 404); `dfr-sim fleet`
prints any of them and exits with status 2. A drone never raises on what arrives over MAVLink:
PX4 answers bad input on the wire (COMMAND_ACK, MISSION_ACK, STATUSTEXT), and so does the simulator.
"""

from __future__ import annotations


class SimVehicleError(Exception):
    """Base of every simulator.vehicle error."""


class SimConfigError(SimVehicleError):
    """The fleet configuration is invalid."""


class SimControlError(SimVehicleError):
    """A control (fault-injection) request is invalid."""


class UnknownDroneError(SimControlError):
    """No drone with that index exists in the fleet."""
