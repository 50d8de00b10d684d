"""Flight plans, the MAVLink vehicle link for a fleet, commands and flight state."""

from flight.clock import Clock, SystemClock
from flight.errors import (
    CommandRejectedError,
    FlightError,
    IllegalTransitionError,
    InvalidCommandError,
    LinkError,
    LinkLostError,
    LinkTimeoutError,
    MissionTransferError,
    NotLinkHolderError,
    PlanRejectedError,
    SafetyConfigError,
    UnknownVehicleError,
    UnsupportedConnectionError,
)
from flight.fleet import FleetLink
from flight.link import VehicleLink
from flight.link_context import Fence
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink, parse_connection_url
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.models import (
    CommandAck,
    FlightMode,
    LandedState,
    LinkHealth,
    LinkState,
    SafetyConfig,
    VehicleEvent,
    VehicleEventKind,
    VehicleId,
    VehicleState,
)
from flight.plan import DronePerformance, EnergyEstimate, FlightPlan
from flight.planner import (
    fence_items,
    plan_response,
    plan_response_from_air,
    zones_from_fence_items,
)
from flight.signing import FrameRejection, LinkSigning, SigningSetup
from flight.state import (
    REASSIGNABLE_PHASES,
    CadUnitStatus,
    FailsafeCause,
    FlightPhase,
    FlightStateMachine,
    FlightTransition,
)
from flight.state_json import vehicle_state_from_json, vehicle_state_to_json
from flight.tracker import FlightTracker, adopt_flight, failsafe_cause_of, missions_match

__all__ = [
    "DronePerformance",
    "EnergyEstimate",
    "FlightPlan",
    "PlanRejectedError",
    "fence_items",
    "plan_response",
    "plan_response_from_air",
    "zones_from_fence_items",
    "MavCmd",
    "MavFrame",
    "MissionItem",
    "MissionType",
    "REASSIGNABLE_PHASES",
    "CadUnitStatus",
    "Clock",
    "CommandAck",
    "CommandRejectedError",
    "FailsafeCause",
    "FleetLink",
    "FlightError",
    "FlightMode",
    "FrameRejection",
    "FlightPhase",
    "FlightStateMachine",
    "FlightTracker",
    "FlightTransition",
    "IllegalTransitionError",
    "InvalidCommandError",
    "LandedState",
    "LinkConfig",
    "LinkError",
    "LinkHealth",
    "LinkSigning",
    "LinkLostError",
    "NotLinkHolderError",
    "Fence",
    "LinkState",
    "LinkTimeoutError",
    "MavlinkVehicleLink",
    "MissionTransferError",
    "SafetyConfig",
    "SafetyConfigError",
    "SigningSetup",
    "SystemClock",
    "UnknownVehicleError",
    "UnsupportedConnectionError",
    "VehicleEvent",
    "VehicleEventKind",
    "VehicleId",
    "VehicleLink",
    "VehicleState",
    "adopt_flight",
    "failsafe_cause_of",
    "missions_match",
    "parse_connection_url",
    "vehicle_state_from_json",
    "vehicle_state_to_json",
]
