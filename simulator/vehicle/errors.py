"""Errors raised by the simulated vehicle fleet.

SimVehicleError
├── SimConfigError        bad fleet configuration (ports, speed-up, fleet file, homes)
└── SimControlError       a fault-injection request that cannot be applied
    └── UnknownDroneError the drone index does not exist
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
