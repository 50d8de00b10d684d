"""What the parts of a simulated drone (navigator, failsafes, telemetry, commands) may read and ask of it.

Each part takes the drone typed as a protocol listing only what it uses, so no part imports
drone.py and the drone composes them without an import circle. `DroneView` is the shared core:
the true state, mode, parameters, plans and local frame, plus STATUSTEXT and mode switching.
"""

from __future__ import annotations

from typing import Protocol

from .frame import LocalFrame
from .mission import Plans
from .modes import FlightMode
from .params import ParamStore
from .physics import State

# MAV_SEVERITY of the STATUSTEXT PX4 sends for refusals and failsafes, warnings, and information.
SEVERITY_CRITICAL, SEVERITY_WARNING, SEVERITY_INFO = 2, 4, 6


class DroneView(Protocol):
    """State readers and the two actions every part needs (parts read these, never assign them)."""

    phys: State
    mode: FlightMode
    params: ParamStore
    plans: Plans
    frame: LocalFrame

    def home_local(self) -> tuple[float, float, float]:
        """Home in the local frame (the origin if unset)."""
        ...

    def announce(self, severity: int, text: str) -> None:
        """STATUSTEXT on every link."""
        ...

    def set_mode(self, mode: FlightMode, now_s: float) -> None:
        """Switch navigation state (no checks; callers check)."""
        ...
