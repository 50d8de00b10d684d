"""Dispatch policy: whether a drone may and should respond to a call, which one, and why."""

from dfr.dispatch.agency_policy import (
    DEFAULT_CALL_TYPES,
    DEFAULT_NEVER,
    AgencyPolicy,
    CallTypeRule,
    PreemptionPolicy,
    WeatherLimits,
)
from dfr.dispatch.daylight import Daylight, LightPhase, daylight_at
from dfr.dispatch.errors import (
    DispatchError,
    InvalidFactsError,
    MetarParseError,
    PolicyConfigError,
    WeatherError,
)
from dfr.dispatch.facts import (
    ActiveTfr,
    Assignment,
    CallFacts,
    DockFacts,
    DroneFacts,
    RouteFacts,
    WeatherFacts,
)
from dfr.dispatch.policy import DispatchDecision, DroneEvaluation, RouteSource, evaluate
from dfr.dispatch.routes import (
    performance_of,
    plan_route_facts,
    route_facts_from_plan,
    route_facts_from_rejection,
)
from dfr.dispatch.rules import Trip, estimate_trip
from dfr.dispatch.verdict import Rule, RuleVerdict
from dfr.dispatch.weather import (
    ManualWeatherSource,
    MetarWeatherSource,
    StaticWeatherSource,
    WeatherSource,
    parse_metar,
)

__all__ = [
    "DEFAULT_CALL_TYPES",
    "DEFAULT_NEVER",
    "ActiveTfr",
    "AgencyPolicy",
    "Assignment",
    "CallFacts",
    "CallTypeRule",
    "Daylight",
    "DispatchDecision",
    "DispatchError",
    "DockFacts",
    "DroneEvaluation",
    "DroneFacts",
    "InvalidFactsError",
    "LightPhase",
    "ManualWeatherSource",
    "MetarParseError",
    "MetarWeatherSource",
    "PolicyConfigError",
    "PreemptionPolicy",
    "RouteFacts",
    "RouteSource",
    "Rule",
    "RuleVerdict",
    "StaticWeatherSource",
    "Trip",
    "WeatherError",
    "WeatherFacts",
    "WeatherLimits",
    "WeatherSource",
    "daylight_at",
    "estimate_trip",
    "evaluate",
    "parse_metar",
    "performance_of",
    "plan_route_facts",
    "route_facts_from_plan",
    "route_facts_from_rejection",
]
