"""Errors raised by the flight package.

FlightError
├── LinkError                       (a vehicle's MAVLink link; carries `vehicle_id`)
│   ├── UnsupportedConnectionError  (a connection URL we cannot open)
│   ├── LinkTimeoutError            (no answer from the vehicle within the deadline)
│   ├── LinkLostError               (the vehicle's heartbeat is gone; nothing was sent)
│   ├── CommandRejectedError        (COMMAND_ACK other than ACCEPTED; result + STATUSTEXT detail)
│   ├── MissionTransferError        (mission / fence / rally upload, download or verify failed)
│   └── SafetyConfigError           (a failsafe parameter was not set and read back as required)
├── InvalidCommandError             (bad arguments, refused before anything is sent)
├── UnknownVehicleError             (no vehicle with that id in the fleet)
├── IllegalTransitionError          (flight state machine: transition not in the table)
└── PlanRejectedError               (defined in flight/plan.py: no legal response flight)
"""

from __future__ import annotations


class FlightError(Exception):
    """Root of every error raised by `flight`."""


class LinkError(FlightError):
    """A MAVLink link to one vehicle failed."""

    def __init__(self, vehicle_id: str, message: str) -> None:
        super().__init__(f"{vehicle_id}: {message}")
        self.vehicle_id = vehicle_id


class UnsupportedConnectionError(LinkError):
    """The connection URL has a scheme or form this link cannot open."""


class LinkTimeoutError(LinkError):
    """The vehicle did not answer within the deadline (after all retries)."""

    def __init__(self, vehicle_id: str, operation: str, timeout_s: float) -> None:
        super().__init__(vehicle_id, f"{operation}: no answer within {timeout_s:.2f} s")
        self.operation = operation
        self.timeout_s = timeout_s


class LinkLostError(LinkError):
    """The vehicle's link is lost; the operation was refused without sending anything."""

    def __init__(self, vehicle_id: str, operation: str) -> None:
        super().__init__(vehicle_id, f"{operation}: link lost, nothing sent")
        self.operation = operation


class CommandRejectedError(LinkError):
    """The vehicle answered a command with a MAV_RESULT other than ACCEPTED."""

    def __init__(
        self, vehicle_id: str, command: str, result: int, result_name: str, detail: str
    ) -> None:
        text = f"{command} refused: {result_name}"
        if detail:
            text += f" ({detail})"
        super().__init__(vehicle_id, text)
        self.command = command
        self.result = result
        self.result_name = result_name
        self.detail = detail


class MissionTransferError(LinkError):
    """A mission, fence or rally transfer failed (MAV_MISSION_RESULT, timeout or verify mismatch)."""

    def __init__(
        self,
        vehicle_id: str,
        operation: str,
        reason: str,
        result: int | None = None,
        detail: str = "",
    ) -> None:
        text = f"{operation} failed: {reason}"
        if detail:
            text += f" ({detail})"
        super().__init__(vehicle_id, text)
        self.operation = operation
        self.reason = reason
        self.result = result
        self.detail = detail


class SafetyConfigError(LinkError):
    """A required failsafe parameter was not confirmed; the vehicle must not be launched."""

    def __init__(
        self, vehicle_id: str, param: str, wanted: float, got: float | None, detail: str = ""
    ) -> None:
        got_text = "no answer" if got is None else repr(got)
        text = f"safety parameter {param} not confirmed: wanted {wanted!r}, vehicle has {got_text}"
        if detail:
            text += f" ({detail})"
        super().__init__(vehicle_id, text)
        self.param = param
        self.wanted = wanted
        self.got = got


class InvalidCommandError(FlightError):
    """A command's arguments are invalid; it was refused before anything was sent."""


class UnknownVehicleError(FlightError):
    """No vehicle with this id is known to the fleet."""

    def __init__(self, vehicle_id: str) -> None:
        super().__init__(f"unknown vehicle {vehicle_id!r}")
        self.vehicle_id = vehicle_id


class IllegalTransitionError(FlightError):
    """The flight state machine was asked for a transition its table does not allow."""

    def __init__(self, flight_id: str, from_phase: str, to_phase: str) -> None:
        super().__init__(f"flight {flight_id}: illegal transition {from_phase} -> {to_phase}")
        self.flight_id = flight_id
        self.from_phase = from_phase
        self.to_phase = to_phase
