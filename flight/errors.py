"""Errors raised by the flight package; none carries an HTTP status (dfr/api/errors.py maps them).

FlightError
 ├── LinkError                       a vehicle's MAVLink link failed; carries `vehicle_id`, `detail`
 │    ├── UnsupportedConnectionError a connection URL we cannot open (scheme or form)
 │    ├── LinkTimeoutError           no answer from the vehicle within the deadline, after all retries
 │    ├── LinkLostError              the vehicle's heartbeat is gone; nothing was sent
 │    ├── NotLinkHolderError         this process no longer holds the vehicle's link lease; nothing sent
 │    ├── CommandRejectedError       COMMAND_ACK other than ACCEPTED: MAV_RESULT + STATUSTEXT detail
 │    ├── MissionTransferError       mission / fence / rally upload, download, verify or clear failed
 │    └── SafetyConfigError          a failsafe parameter was not set and read back as required
 ├── InvalidCommandError             bad command arguments, refused before anything is sent
 ├── UnknownVehicleError             no vehicle with that id in the fleet
 ├── IllegalTransitionError          flight state machine: the transition is not in its table
 └── PlanRejectedError               no legal response flight; every reason and violation
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geofence import Violation


class FlightError(Exception):
    """Root of every error raised by `flight`."""


class LinkError(FlightError):
    """A MAVLink link to one vehicle failed; `detail` is the vehicle's own words, if any."""

    def __init__(self, vehicle_id: str, message: str, detail: str = "") -> None:
        super().__init__(f"{vehicle_id}: {message}" + (f" ({detail})" if detail else ""))
        self.vehicle_id = vehicle_id
        self.detail = detail


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


class NotLinkHolderError(LinkError):
    """Another process holds the vehicle's link now (fencing): the operation was not sent."""

    def __init__(self, vehicle_id: str, operation: str) -> None:
        super().__init__(
            vehicle_id, f"{operation}: this instance no longer holds the link, nothing sent"
        )
        self.operation = operation


class CommandRejectedError(LinkError):
    """The vehicle answered a command with a MAV_RESULT other than ACCEPTED."""

    def __init__(
        self, vehicle_id: str, command: str, result: int, result_name: str, detail: str
    ) -> None:
        super().__init__(vehicle_id, f"{command} refused: {result_name}", detail)
        self.command = command
        self.result = result
        self.result_name = result_name


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
        super().__init__(vehicle_id, f"{operation} failed: {reason}", detail)
        self.operation = operation
        self.reason = reason
        self.result = result


class SafetyConfigError(LinkError):
    """A required failsafe parameter was not confirmed; the vehicle must not be launched."""

    def __init__(
        self, vehicle_id: str, param: str, wanted: float, got: float | None, detail: str = ""
    ) -> None:
        got_text = "no answer" if got is None else repr(got)
        super().__init__(
            vehicle_id,
            f"safety parameter {param} not confirmed: wanted {wanted!r}, vehicle has {got_text}",
            detail,
        )
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


class PlanRejectedError(FlightError):
    """No legal response flight exists; `reasons` says every why (and `violations` the details)."""

    def __init__(self, reasons: tuple[str, ...], violations: tuple[Violation, ...] = ()) -> None:
        self.reasons = reasons
        self.violations = violations
        super().__init__("flight plan refused: " + "; ".join(reasons))
