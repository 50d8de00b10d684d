"""What a dispatch rule returns: which rule, whether it passed, and the sentence and figures behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Detail = str | int | float | bool | None | tuple[str, ...]


class Rule(StrEnum):
    """The dispatch rules, in the order they are shown."""

    CALL_TYPE = "call_type"
    WEATHER = "weather"
    AVAILABILITY = "availability"
    LAUNCH_BATTERY = "launch_battery"
    DISTANCE = "distance"
    ENERGY = "energy"
    DAYLIGHT = "daylight"
    AIRSPACE = "airspace"
    ALTITUDE = "altitude"
    TFR = "tfr"
    POLICY_GUARD = "policy_guard"
    SUPERVISOR_APPROVAL = "supervisor_approval"


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule's outcome; `checked=False` means it was not evaluated (and does not count as passed)."""

    rule: Rule
    passed: bool
    reason: str
    details: Mapping[str, Detail] = field(default_factory=dict)
    checked: bool = True

    def to_public(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "rule": str(self.rule),
            "passed": self.passed,
            "checked": self.checked,
            "reason": self.reason,
            "details": {k: list(v) if isinstance(v, tuple) else v for k, v in self.details.items()},
        }


def not_checked(rule: Rule, reason: str) -> RuleVerdict:
    """A rule that was not evaluated, and why."""
    return RuleVerdict(rule, False, reason, checked=False)
