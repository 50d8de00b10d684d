"""The agency's dispatch policy: which calls get a drone, limits, auto-launch and preemption.

Loaded from the fleet file's optional `[policy]` table; everything has a conservative default.
Call types are APCO common incident type codes (as CAD sends them); a code the table does not list
falls back to its DFR category (`[policy.categories]`), and anything else is not flown.

    [policy]
    battery_reserve_pct = 25
    night_waiver = true
    [policy.call_types.BURGLARY]
    max_priority = 2
    auto_launch_max_priority = 1
    [policy.weather]
    max_wind_mps = 10.0
    [policy.response_radius_m]
    sand-creek = 4000.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dfr.dispatch.errors import PolicyConfigError
from dfr.dispatch.guards import GuardPolicy


def normalise_code(code: str) -> str:
    """APCO codes compare case- and space-insensitively."""
    return code.strip().upper()


def normalise_category(category: str) -> str:
    """DFR categories compare case- and space-insensitively."""
    return category.strip().lower()


class CallTypeRule(BaseModel):
    """Up to which priority a call type gets a drone, and up to which the drone launches on its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_priority: int = Field(ge=1, le=5, description="flown when priority <= this (1 highest)")
    auto_launch_max_priority: int = Field(
        default=0, ge=0, le=5, description="auto-launch when priority <= this; 0: never"
    )
    requires_in_progress: bool = False

    @model_validator(mode="after")
    def _auto_within_allowed(self) -> CallTypeRule:
        if self.auto_launch_max_priority > self.max_priority:
            raise PolicyConfigError(
                f"auto_launch_max_priority {self.auto_launch_max_priority} is above "
                f"max_priority {self.max_priority}: a call could launch on its own without being allowed"
            )
        return self


def _rule(max_priority: int, auto: int = 0, *, in_progress: bool = False) -> CallTypeRule:
    return CallTypeRule(
        max_priority=max_priority, auto_launch_max_priority=auto, requires_in_progress=in_progress
    )


#: APCO common incident types a DFR program typically flies, with priority limits.
DEFAULT_CALL_TYPES: Final[Mapping[str, CallTypeRule]] = {
    "BURGLARY": _rule(2, 2),
    "ROBBERY": _rule(2, 2),
    "WEAPON": _rule(2, 2),
    "SHOTS": _rule(2, 2),
    "SHOOTING": _rule(2, 1),
    "ASSAULT": _rule(2, 1),
    "FIGHT": _rule(2, 1),
    "SUSP": _rule(3),
    "PROWLER": _rule(3),
    "WELFARE": _rule(3),
    "MISSING": _rule(3, 2),
    "TRAFFIC": _rule(2),
    "MVA": _rule(2),
    "MVC": _rule(2),
    "HITRUN": _rule(2),
}

#: Never flown, whatever the priority.
DEFAULT_NEVER: Final = ("NONEMERG", "non_emergency")


class WeatherLimits(BaseModel):
    """Weather the agency's drones may fly in (defaults follow 14 CFR 107.51 and typical DFR aircraft)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_wind_mps: float = Field(default=12.0, gt=0, le=60)
    max_gust_mps: float = Field(default=15.0, gt=0, le=80)
    min_visibility_m: float = Field(default=4828.0, ge=0, description="3 statute miles")
    min_ceiling_ft: float = Field(
        default=900.0, ge=0, description="400 ft AGL flight plus 500 ft below cloud"
    )
    #: Present-weather codes that ground the fleet. "RA" matches any rain, "+RA" heavy rain only.
    forbidden_weather: tuple[str, ...] = (
        "TS",
        "SN",
        "GR",
        "GS",
        "PL",
        "IC",
        "SG",
        "FZ",
        "UP",
        "+RA",
        "+DZ",
        "+SH",
        "FC",
        "SQ",
        "SS",
        "DS",
        "VA",
    )
    max_observation_age_min: float = Field(default=90.0, gt=0)

    @field_validator("forbidden_weather")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for code in value:
            body = code.strip().upper()
            core = body.lstrip("+-")
            if not core or len(core) % 2 or not core.isalpha():
                raise PolicyConfigError(
                    f"forbidden weather code {code!r} is not a METAR present-weather code "
                    "(two-letter groups, optional + or - intensity)"
                )
            out.append(body)
        return tuple(out)


class PreemptionPolicy(BaseModel):
    """Whether a higher-priority call may take a drone already working a lower-priority call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool = False
    min_priority_gap: int = Field(
        default=2, ge=1, le=4, description="new priority must be this much higher (smaller number)"
    )
    auto_launch: bool = False


class AgencyPolicy(BaseModel):
    """Every dispatch rule an agency sets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_types: dict[str, CallTypeRule] = Field(default_factory=lambda: dict(DEFAULT_CALL_TYPES))
    replace_default_call_types: bool = Field(
        default=False,
        description="true: call_types replaces the default table instead of extending it",
    )
    categories: dict[str, CallTypeRule] = Field(default_factory=dict)
    never: tuple[str, ...] = DEFAULT_NEVER
    auto_launch: bool = Field(default=True, description="master switch for auto-launch")
    response_radius_m: dict[str, float] = Field(
        default_factory=dict, description="per dock id; overrides the dock's own radius"
    )
    battery_reserve_pct: float = Field(default=20.0, ge=0, lt=100)
    min_launch_battery_pct: float = Field(default=30.0, ge=0, le=100)
    on_scene_min: float = Field(default=5.0, ge=0, le=240)
    max_standoff_m: float = Field(
        default=400.0, ge=0, description="a stand-off farther from the scene than this is useless"
    )
    weather: WeatherLimits = WeatherLimits()
    night_waiver: bool = False
    preemption: PreemptionPolicy = PreemptionPolicy()
    guards: GuardPolicy = GuardPolicy()

    @model_validator(mode="before")
    @classmethod
    def _extend_default_table(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and "call_types" in data
            and not data.get("replace_default_call_types")
        ):
            given = data["call_types"]
            if isinstance(given, Mapping):
                merged: dict[str, Any] = dict(DEFAULT_CALL_TYPES)
                merged.update({normalise_code(str(k)): v for k, v in given.items()})
                data = {**data, "call_types": merged}
        return data

    @field_validator("call_types")
    @classmethod
    def _codes_upper(cls, value: dict[str, CallTypeRule]) -> dict[str, CallTypeRule]:
        return {normalise_code(k): v for k, v in value.items()}

    @field_validator("categories")
    @classmethod
    def _categories_lower(cls, value: dict[str, CallTypeRule]) -> dict[str, CallTypeRule]:
        return {normalise_category(k): v for k, v in value.items()}

    @field_validator("response_radius_m")
    @classmethod
    def _radii_positive(cls, value: dict[str, float]) -> dict[str, float]:
        for dock_id, radius in value.items():
            if not 0 < radius <= 50_000:
                raise PolicyConfigError(
                    f"response radius of dock {dock_id!r} must be within 0..50000 m, got {radius}"
                )
        return value

    @model_validator(mode="after")
    def _launch_minimum_above_reserve(self) -> AgencyPolicy:
        if self.min_launch_battery_pct and self.min_launch_battery_pct <= self.battery_reserve_pct:
            raise PolicyConfigError(
                f"min_launch_battery_pct {self.min_launch_battery_pct} must be above "
                f"battery_reserve_pct {self.battery_reserve_pct}"
            )
        return self

    def is_never(self, call_type: str, category: str) -> bool:
        """True if the call type or its category is on the never-fly list."""
        code, cat = normalise_code(call_type), normalise_category(category)
        return any(normalise_code(n) == code or normalise_category(n) == cat for n in self.never)

    def rule_for(self, call_type: str, category: str) -> tuple[str, CallTypeRule] | None:
        """The rule for a call (by APCO code, else by category) and what matched, or None."""
        code = normalise_code(call_type)
        rule = self.call_types.get(code)
        if rule is not None:
            return code, rule
        cat = normalise_category(category)
        rule = self.categories.get(cat)
        if rule is not None:
            return f"category {cat}", rule
        return None

    def radius_for(self, dock_id: str, dock_radius_m: float) -> float:
        """The response radius of a dock: the policy's override, else the dock's own."""
        return self.response_radius_m.get(dock_id, dock_radius_m)
