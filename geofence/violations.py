"""Why something is not legal: one violation per reason, and a route refusal listing them all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ViolationKind(StrEnum):
    """Why a point, a leg or a route is not legal."""

    OUTSIDE_OPERATING_AREA = "outside_operating_area"
    INSIDE_EXCLUSION = "inside_exclusion"
    ABOVE_CEILING = "above_ceiling"
    ABOVE_POLICY_MAX = "above_policy_max"
    BELOW_MIN_SAFE_ALTITUDE = "below_min_safe_altitude"
    NO_ROUTE = "no_route"
    NO_STANDOFF = "no_standoff"


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason something is not legal, for a human and for code."""

    kind: ViolationKind
    reason: str
    zone_id: str | None = None
    leg_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "kind": str(self.kind),
            "reason": self.reason,
            "zone_id": self.zone_id,
            "leg_index": self.leg_index,
        }


@dataclass(frozen=True, slots=True)
class RouteRefusal:
    """No legal route, with every reason found."""

    reasons: tuple[Violation, ...]

    @property
    def message(self) -> str:
        """All reasons in one sentence."""
        return "; ".join(v.reason for v in self.reasons)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {"refused": True, "reasons": [v.to_json() for v in self.reasons]}
