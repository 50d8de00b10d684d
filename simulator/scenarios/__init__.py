"""SITL scenarios: documented scenario files, resources, the runner and its report."""

from simulator.scenarios.docs import CheckDoc, ScenarioDoc, Severity, parse_scenario_doc
from simulator.scenarios.errors import (
    ConfigurationError,
    MissingResourceError,
    ResourceError,
    ResourceStartError,
    ScenarioCannotContinueError,
    ScenarioDocumentationError,
    ScenarioError,
    ScenarioNotImplementedError,
    TestRunCannotContinueError,
    UndeclaredCheckError,
    UnknownResourceError,
    UnknownScenarioError,
    VehicleUnreachableError,
)
from simulator.scenarios.framework import PendingCheck, Scenario
from simulator.scenarios.record import RunRecord, ScenarioOutcome, ScenarioRecord

__all__ = [
    "CheckDoc",
    "ConfigurationError",
    "MissingResourceError",
    "PendingCheck",
    "ResourceError",
    "ResourceStartError",
    "RunRecord",
    "Scenario",
    "ScenarioCannotContinueError",
    "ScenarioDoc",
    "ScenarioDocumentationError",
    "ScenarioError",
    "ScenarioNotImplementedError",
    "ScenarioOutcome",
    "ScenarioRecord",
    "Severity",
    "TestRunCannotContinueError",
    "UndeclaredCheckError",
    "UnknownResourceError",
    "UnknownScenarioError",
    "VehicleUnreachableError",
    "parse_scenario_doc",
]
