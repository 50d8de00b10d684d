"""Errors of the scenario framework.

Hierarchy::

    ScenarioError
    ├── ScenarioDocumentationError      a scenario's .md is malformed or disagrees with its .py
    │   └── UndeclaredCheckError        code asked for a check the .md does not declare
    ├── ConfigurationError              a run configuration is unusable (names file and line)
    │   ├── UnknownScenarioError        a scenario named in a config or on the command line does not exist
    │   ├── UnknownResourceError        a resource type or a resource name does not exist
    │   └── MissingResourceError        a scenario needs a resource the config does not provide
    ├── ResourceError                   a resource could not be started or used
    │   ├── ResourceStartError          a child process or server did not come up
    │   └── VehicleUnreachableError     an external vehicle URL never answered
    ├── ScenarioNotImplementedError     the scenario is documented but its run() is not written yet
    ├── ScenarioCannotContinueError     a high-severity check failed: cleanup, then the next scenario
    └── TestRunCannotContinueError      a critical check failed: cleanup, then stop the whole run
"""

from __future__ import annotations


class ScenarioError(Exception):
    """Root of every scenario framework error."""


class ScenarioDocumentationError(ScenarioError):
    """A scenario's documentation is malformed or does not match its code."""


class UndeclaredCheckError(ScenarioDocumentationError):
    """The code performed a check that the documentation does not declare in the current step."""


class ConfigurationError(ScenarioError):
    """A run configuration cannot be used; the message names the file and line."""


class UnknownScenarioError(ConfigurationError):
    """No scenario of that name exists."""


class UnknownResourceError(ConfigurationError):
    """No resource type or resource of that name exists."""


class MissingResourceError(ConfigurationError):
    """A scenario's constructor needs a resource the configuration does not provide."""


class ResourceError(ScenarioError):
    """A resource could not be started or used."""


class ResourceStartError(ResourceError):
    """A resource's process or server did not come up in time."""


class VehicleUnreachableError(ResourceError):
    """An external vehicle URL never sent a heartbeat."""


class ScenarioNotImplementedError(ScenarioError):
    """The scenario is documented, but its behaviour under test does not exist yet; never a pass."""


class ScenarioCannotContinueError(ScenarioError):
    """A high-severity check failed; the scenario ends after its cleanup."""


class TestRunCannotContinueError(ScenarioError):
    """A critical check failed; the run ends after this scenario's cleanup."""

    __test__ = False  # not a pytest class despite its name
